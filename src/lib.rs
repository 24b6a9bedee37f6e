//! Salle: the room daemon.
