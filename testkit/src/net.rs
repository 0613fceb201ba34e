//! Loopback ports.

use std::net::TcpListener;

/// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, release it).
/// Prefer passing port 0 to the program itself when it can report its address.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0")
}

#[cfg(test)]
mod tests {
    #[test]
    fn gives_a_bindable_port() {
        let port = super::free_port();
        assert!(port > 0);
        std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    }
}
