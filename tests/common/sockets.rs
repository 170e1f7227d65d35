//! The TCP sockets of this test process that are connected to a port, and whether each has
//! `TCP_NODELAY` (`src/core/sql/nodelay.rs`): the tests that use it talk to a private server on
//! a port no other test uses, so every such socket is one of the store's connections.

use std::mem::size_of;
use std::os::fd::RawFd;

/// `TCP_NODELAY` of each socket of this process connected to `127.0.0.1:port`.
pub fn nodelay_of_sockets_to(port: u16) -> Vec<bool> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<RawFd>().ok())
        .filter(|&fd| peer_port(fd) == Some(port))
        .filter_map(nodelay)
        .collect()
}

fn peer_port(fd: RawFd) -> Option<u16> {
    // SAFETY: a zeroed sockaddr_in is valid; getpeername writes at most `len` bytes.
    let mut address: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let ok = unsafe { libc::getpeername(fd, (&mut address as *mut libc::sockaddr_in).cast(), &mut len) } == 0;
    (ok && i32::from(address.sin_family) == libc::AF_INET).then(|| u16::from_be(address.sin_port))
}

fn nodelay(fd: RawFd) -> Option<bool> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the option is a c_int, and `len` says so.
    let ok = unsafe { libc::getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, (&mut value as *mut libc::c_int).cast(), &mut len) } == 0;
    ok.then_some(value != 0)
}
