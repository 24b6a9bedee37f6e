//! GPIO on a Raspberry Pi through `rppal` (BCM pin numbers, the Pi's own GPIO block).

use super::{ButtonLine, Edge, LedLine};
use crate::config::Bias;
use rppal::gpio::{Gpio, InputPin, Level, OutputPin, Trigger};
use std::io;
use std::time::Duration;

fn to_io(e: rppal::gpio::Error) -> io::Error {
    io::Error::other(e.to_string())
}

fn gpio() -> io::Result<Gpio> {
    if !super::is_raspberry_pi() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "`pin` numbers are Raspberry Pi BCM pins and this board is not a Raspberry Pi: use `chip` and `line`",
        ));
    }
    Gpio::new().map_err(to_io)
}

struct PiButton {
    pin: InputPin,
    active_low: bool,
}

pub fn button(pin: u8, active_low: bool, bias: Bias) -> io::Result<Box<dyn ButtonLine>> {
    let pin = gpio()?.get(pin).map_err(to_io)?;
    let mut pin = match bias {
        Bias::PullUp => pin.into_input_pullup(),
        Bias::PullDown => pin.into_input_pulldown(),
        Bias::AsIs | Bias::Disabled => pin.into_input(),
    };
    pin.set_interrupt(Trigger::Both, None).map_err(to_io)?;
    Ok(Box::new(PiButton { pin, active_low }))
}

impl ButtonLine for PiButton {
    fn wait(&mut self, timeout: Option<Duration>) -> io::Result<Option<Edge>> {
        let event = self.pin.poll_interrupt(false, timeout).map_err(to_io)?;
        Ok(event.map(|e| Edge {
            active: (e.trigger == Trigger::RisingEdge) != self.active_low,
            at_ms: e.timestamp.as_millis() as u64,
        }))
    }

    fn level(&mut self) -> io::Result<bool> {
        Ok((self.pin.read() == Level::High) != self.active_low)
    }
}

struct PiLed {
    pin: OutputPin,
    active_low: bool,
}

pub fn led(pin: u8, active_low: bool) -> io::Result<Box<dyn LedLine>> {
    let mut pin = gpio()?.get(pin).map_err(to_io)?.into_output();
    if active_low {
        pin.set_high();
    } else {
        pin.set_low();
    }
    Ok(Box::new(PiLed { pin, active_low }))
}

impl LedLine for PiLed {
    fn set(&mut self, on: bool) -> io::Result<()> {
        if on != self.active_low {
            self.pin.set_high();
        } else {
            self.pin.set_low();
        }
        Ok(())
    }
}
