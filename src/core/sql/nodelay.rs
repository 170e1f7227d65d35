//! `TCP_NODELAY` on the SQL stores' connections, which sqlx 0.9.0 stopped setting
//! (launchbadge/sqlx#4335, fixed upstream in #4336 but not released as of this writing).
//!
//! Without it a write larger than one TCP segment (a pre-key upload, a chat's session records)
//! waits for the server's delayed ACK before its last segment leaves: about 40 ms per write.
//! sqlx gives us no handle on the socket, so as each connection opens (`after_connect`) we set
//! the option on every TCP socket of this process that is connected to the store's server. That
//! touches nothing but that one socket option: no descriptor is opened, duplicated or closed
//! (listing `/proc/self/fd` opens only the listing itself). Another client of the same server in
//! this process gets the option too, which only makes it answer sooner.
//!
//! Remove this module once the sqlx release in `Cargo.lock` sets the option itself.

use std::collections::HashSet;
use std::net::SocketAddr;

/// Sets `TCP_NODELAY` on this process's sockets connected to `host:port`; returns how many.
/// Best effort: a failure only leaves the delay in place, so it is logged, never returned.
pub(crate) async fn set_on_connections_to(host: &str, port: u16) -> usize {
    let servers: HashSet<SocketAddr> = match tokio::net::lookup_host((host, port)).await {
        Ok(addresses) => addresses.map(canonical).collect(),
        Err(err) => {
            tracing::debug!(%err, "TCP_NODELAY: cannot resolve the server's address");
            return 0;
        }
    };
    let set = platform::set_on_sockets_connected_to(&servers);
    if set == 0 {
        tracing::debug!("TCP_NODELAY: no socket connected to the server was found");
    }
    set
}

/// An IPv4 address seen through an IPv6 socket (`::ffff:a.b.c.d`) as the IPv4 address it is.
fn canonical(address: SocketAddr) -> SocketAddr {
    SocketAddr::new(address.ip().to_canonical(), address.port())
}

#[cfg(any(target_os = "linux", target_os = "android", target_os = "macos"))]
mod platform {
    use std::collections::HashSet;
    use std::mem::{size_of, MaybeUninit};
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
    use std::os::fd::RawFd;

    /// Where the kernel lists this process's open descriptors.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const FD_LIST: &str = "/proc/self/fd";
    #[cfg(target_os = "macos")]
    const FD_LIST: &str = "/dev/fd";

    pub(super) fn set_on_sockets_connected_to(servers: &HashSet<SocketAddr>) -> usize {
        let Ok(entries) = std::fs::read_dir(FD_LIST) else { return 0 };
        entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<RawFd>().ok())
            .filter(|&fd| peer(fd).is_some_and(|address| servers.contains(&super::canonical(address))))
            .filter(|&fd| set_nodelay(fd))
            .count()
    }

    /// The address the socket `fd` is connected to, if it is a connected IP socket.
    fn peer(fd: RawFd) -> Option<SocketAddr> {
        let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
        let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: getpeername writes at most `len` bytes into `storage`; an fd that is not a
        // connected socket (or no longer open) only makes it fail.
        if unsafe { libc::getpeername(fd, storage.as_mut_ptr().cast(), &mut len) } != 0 {
            return None;
        }
        // SAFETY: zero-initialised, and the kernel filled in what it returned.
        let storage = unsafe { storage.assume_init() };
        match i32::from(storage.ss_family) {
            libc::AF_INET if len as usize >= size_of::<libc::sockaddr_in>() => {
                // SAFETY: the family says the storage holds a sockaddr_in, and it is that long.
                let v4 = unsafe { &*(&storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
                Some(SocketAddr::new(Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)).into(), u16::from_be(v4.sin_port)))
            }
            libc::AF_INET6 if len as usize >= size_of::<libc::sockaddr_in6>() => {
                // SAFETY: as above, for sockaddr_in6.
                let v6 = unsafe { &*(&storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
                Some(SocketAddr::new(Ipv6Addr::from(v6.sin6_addr.s6_addr).into(), u16::from_be(v6.sin6_port)))
            }
            _ => None,
        }
    }

    /// False if the socket refused (a UDP socket connected to the same address, say).
    fn set_nodelay(fd: RawFd) -> bool {
        let on: libc::c_int = 1;
        // SAFETY: a plain socket option; an fd that is not a TCP socket makes the call fail.
        let result = unsafe {
            libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&on as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        result == 0
    }
}

/// Elsewhere (Windows) sockets are not listed as descriptors: the delay stays until sqlx sets
/// the option again.
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "macos")))]
mod platform {
    use std::collections::HashSet;
    use std::net::SocketAddr;

    pub(super) fn set_on_sockets_connected_to(_servers: &HashSet<SocketAddr>) -> usize {
        0
    }
}

#[cfg(all(test, any(target_os = "linux", target_os = "android", target_os = "macos")))]
mod tests {
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn sets_the_option_on_the_sockets_connected_to_the_server_and_on_no_other() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let ours = [TcpStream::connect(("127.0.0.1", port)).unwrap(), TcpStream::connect(("127.0.0.1", port)).unwrap()];
        let elsewhere = TcpStream::connect(other.local_addr().unwrap()).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

        let set = runtime.block_on(super::set_on_connections_to("127.0.0.1", port));

        assert!(set >= 2, "set on {set} sockets");
        assert!(ours.iter().all(|s| s.nodelay().unwrap()));
        assert!(!elsewhere.nodelay().unwrap(), "a socket to another port is left alone");
    }
}
