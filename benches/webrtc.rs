//! WebRTC publishing benchmark (written next; see README "Benchmark").
fn main() {}
