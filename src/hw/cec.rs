//! HDMI-CEC through the Linux CEC API (`/dev/cecN`, `linux/cec.h`): the room device is a
//! Playback device on the HDMI bus, and asks the TV (logical address 0) to go to standby or to
//! wake up and show it.
//!
//! Blocking calls (a transmit waits for the bus, ~100 ms): run them off the main loop.

use nix::errno::Errno;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// `CEC_MAX_MSG_SIZE`.
const MAX_MSG: usize = 16;
/// `CEC_MAX_LOG_ADDRS`.
const MAX_LOG_ADDRS: usize = 4;

/// `struct cec_msg`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct CecMsg {
    tx_ts: u64,
    rx_ts: u64,
    len: u32,
    timeout: u32,
    sequence: u32,
    flags: u32,
    msg: [u8; MAX_MSG],
    reply: u8,
    rx_status: u8,
    tx_status: u8,
    tx_arb_lost_cnt: u8,
    tx_nack_cnt: u8,
    tx_low_drive_cnt: u8,
    tx_error_cnt: u8,
}

/// `struct cec_log_addrs`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct CecLogAddrs {
    log_addr: [u8; MAX_LOG_ADDRS],
    log_addr_mask: u16,
    cec_version: u8,
    num_log_addrs: u8,
    vendor_id: u32,
    flags: u32,
    osd_name: [u8; 15],
    primary_device_type: [u8; MAX_LOG_ADDRS],
    log_addr_type: [u8; MAX_LOG_ADDRS],
    all_device_types: [u8; MAX_LOG_ADDRS],
    features: [[u8; 12]; MAX_LOG_ADDRS],
}

// The sizes the kernel's ioctl numbers encode (x86-64 and arm64 alike).
const _: () = assert!(std::mem::size_of::<CecMsg>() == 56);
const _: () = assert!(std::mem::size_of::<CecLogAddrs>() == 92);

nix::ioctl_read!(adap_g_phys_addr, b'a', 1, u16);
nix::ioctl_read!(adap_g_log_addrs, b'a', 3, CecLogAddrs);
nix::ioctl_readwrite!(adap_s_log_addrs, b'a', 4, CecLogAddrs);
nix::ioctl_readwrite!(transmit, b'a', 5, CecMsg);

const LOG_ADDR_TV: u8 = 0;
const LOG_ADDR_BROADCAST: u8 = 15;
const LOG_ADDR_TYPE_PLAYBACK: u8 = 3;
const PRIM_DEVTYPE_PLAYBACK: u8 = 4;
const ALL_DEVTYPE_PLAYBACK: u8 = 0x10;
const CEC_VERSION_1_4: u8 = 5;
const VENDOR_ID_NONE: u32 = 0xffff_ffff;
/// Take the unregistered address (15) when every Playback one is taken.
const LOG_ADDRS_FL_ALLOW_UNREG_FALLBACK: u32 = 1;
const TX_STATUS_OK: u8 = 1 << 0;
const TX_STATUS_NACK: u8 = 1 << 2;
const PHYS_ADDR_INVALID: u16 = 0xffff;

/// The CEC opcodes Salle sends.
pub const OP_IMAGE_VIEW_ON: u8 = 0x04;
pub const OP_STANDBY: u8 = 0x36;
pub const OP_ACTIVE_SOURCE: u8 = 0x82;

/// A CEC frame: header (initiator, destination), opcode, operands.
pub fn frame(from: u8, to: u8, opcode: u8, operands: &[u8]) -> Vec<u8> {
    let mut frame = vec![(from << 4) | (to & 0x0f), opcode];
    frame.extend_from_slice(operands);
    frame
}

/// The frames that put the TV to standby: <Standby> to the TV.
pub fn standby_frames(from: u8) -> Vec<Vec<u8>> {
    vec![frame(from, LOG_ADDR_TV, OP_STANDBY, &[])]
}

/// The frames that wake the TV and make it show us: <Image View On> to the TV, then
/// <Active Source> with our physical address to everyone (One Touch Play).
pub fn wake_frames(from: u8, physical_address: u16) -> Vec<Vec<u8>> {
    vec![
        frame(from, LOG_ADDR_TV, OP_IMAGE_VIEW_ON, &[]),
        frame(
            from,
            LOG_ADDR_BROADCAST,
            OP_ACTIVE_SOURCE,
            &physical_address.to_be_bytes(),
        ),
    ]
}

/// "1.0.0.0", as HDMI writes physical addresses.
pub fn physical_address_text(pa: u16) -> String {
    format!(
        "{}.{}.{}.{}",
        pa >> 12,
        (pa >> 8) & 0xf,
        (pa >> 4) & 0xf,
        pa & 0xf
    )
}

/// The first CEC adapter (`/dev/cec0`, `/dev/cec1`... by number), if there is one.
pub fn first_adapter() -> Option<PathBuf> {
    let mut adapters: Vec<(u32, PathBuf)> = std::fs::read_dir("/dev")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let n = name.strip_prefix("cec")?.parse().ok()?;
            Some((n, entry.path()))
        })
        .collect();
    adapters.sort();
    adapters.into_iter().next().map(|(_, path)| path)
}

/// An open CEC adapter with a Playback logical address claimed.
pub struct Cec {
    file: File,
    path: PathBuf,
    log_addr: u8,
}

impl Cec {
    /// Opens `path` and claims a Playback logical address as `osd_name` (cut to 14 bytes), or
    /// keeps the one already claimed.
    pub fn open(path: &Path, osd_name: &str) -> Result<Cec, String> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let mut cec = Cec {
            file,
            path: path.to_path_buf(),
            log_addr: LOG_ADDR_BROADCAST,
        };
        cec.log_addr = cec.claim(osd_name)?;
        Ok(cec)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn claim(&self, osd_name: &str) -> Result<u8, String> {
        let fd = self.file.as_raw_fd();
        let mut current = CecLogAddrs::default();
        // SAFETY: `current` is a `struct cec_log_addrs` the kernel fills in.
        unsafe { adap_g_log_addrs(fd, &mut current) }
            .map_err(|e| self.error("get addresses", e))?;
        let claimed = &current.log_addr_type[..usize::from(current.num_log_addrs.min(4))];
        if let Some(i) = claimed.iter().position(|&t| t == LOG_ADDR_TYPE_PLAYBACK) {
            return Ok(current.log_addr[i]);
        }
        if current.num_log_addrs > 0 {
            // Someone configured it as something else: the room device is a player.
            let mut clear = CecLogAddrs::default();
            // SAFETY: as above; zero addresses unconfigures the adapter.
            unsafe { adap_s_log_addrs(fd, &mut clear) }
                .map_err(|e| self.error("clear addresses", e))?;
        }
        let mut wanted = CecLogAddrs {
            cec_version: CEC_VERSION_1_4,
            num_log_addrs: 1,
            vendor_id: VENDOR_ID_NONE,
            flags: LOG_ADDRS_FL_ALLOW_UNREG_FALLBACK,
            ..CecLogAddrs::default()
        };
        wanted.primary_device_type[0] = PRIM_DEVTYPE_PLAYBACK;
        wanted.log_addr_type[0] = LOG_ADDR_TYPE_PLAYBACK;
        wanted.all_device_types[0] = ALL_DEVTYPE_PLAYBACK;
        for (slot, byte) in wanted.osd_name[..14].iter_mut().zip(osd_name.bytes()) {
            *slot = byte;
        }
        // SAFETY: as above. On a blocking descriptor this returns once the address is
        // claimed (or, without a physical address yet, once the request is stored).
        unsafe { adap_s_log_addrs(fd, &mut wanted) }
            .map_err(|e| self.error("claim a Playback address", e))?;
        Ok(wanted.log_addr[0])
    }

    /// The adapter's physical address; None while the HDMI cable is out.
    pub fn physical_address(&self) -> Result<Option<u16>, String> {
        let mut pa = PHYS_ADDR_INVALID;
        // SAFETY: a __u16 the kernel fills in.
        unsafe { adap_g_phys_addr(self.file.as_raw_fd(), &mut pa) }
            .map_err(|e| self.error("get the physical address", e))?;
        Ok((pa != PHYS_ADDR_INVALID).then_some(pa))
    }

    /// Asks the TV to go to standby.
    pub fn standby(&self) -> Result<(), String> {
        self.send_all(standby_frames(self.log_addr))
    }

    /// Wakes the TV and makes it switch to us.
    pub fn wake(&self) -> Result<(), String> {
        let Some(pa) = self.physical_address()? else {
            return Err(format!(
                "{}: no physical address (is the HDMI cable in?)",
                self.path.display()
            ));
        };
        self.send_all(wake_frames(self.log_addr, pa))
    }

    fn send_all(&self, frames: Vec<Vec<u8>>) -> Result<(), String> {
        frames.iter().try_for_each(|f| self.send(f))
    }

    fn send(&self, frame: &[u8]) -> Result<(), String> {
        let mut msg = CecMsg {
            len: frame.len() as u32,
            ..CecMsg::default()
        };
        msg.msg[..frame.len()].copy_from_slice(frame);
        let what = format!("send opcode 0x{:02x}", frame[1]);
        // SAFETY: a `struct cec_msg` the kernel reads and completes (blocking: the result).
        unsafe { transmit(self.file.as_raw_fd(), &mut msg) }.map_err(|e| self.error(&what, e))?;
        if msg.tx_status & TX_STATUS_OK != 0 {
            Ok(())
        } else if msg.tx_status & TX_STATUS_NACK != 0 {
            Err(format!(
                "{}: {what}: not acknowledged (is the TV there?)",
                self.path.display()
            ))
        } else {
            Err(format!(
                "{}: {what}: transmit status 0x{:02x}",
                self.path.display(),
                msg.tx_status
            ))
        }
    }

    fn error(&self, what: &str, e: Errno) -> String {
        format!("{}: {what}: {}", self.path.display(), e.desc())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_addressed_from_us_to_the_tv_or_everyone() {
        assert_eq!(standby_frames(4), [vec![0x40, 0x36]]);
        assert_eq!(
            wake_frames(4, 0x1000),
            [vec![0x40, 0x04], vec![0x4f, 0x82, 0x10, 0x00]]
        );
        assert_eq!(wake_frames(8, 0x2130)[1], [0x8f, 0x82, 0x21, 0x30]);
        assert_eq!(physical_address_text(0x2130), "2.1.3.0");
    }

    #[test]
    fn a_missing_adapter_is_an_error_naming_it() {
        let e = Cec::open(Path::new("/dev/cec-none"), "Salle")
            .err()
            .unwrap();
        assert!(e.starts_with("/dev/cec-none: "), "{e}");
    }
}
