//! Salle: open firmware for meeting-room devices. This crate is the room daemon.
//!
//! Layout (dependencies point one way): `room` decides, everything else drives hardware or
//! talks to the outside world on its behalf. See the README for the tour.

pub mod api;
pub mod calendar;
pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod hw;
pub mod i18n;
pub mod manage;
pub mod media;
pub mod net;
pub mod room;
pub mod rtc;
pub mod signal;
pub mod system;
pub mod web;
