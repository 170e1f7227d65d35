//! Showing URLs without their secrets: one rule, used by everything that prints, logs or puts
//! a URL in an error (the URL parser, the Redis backend, the binding's `redactUrl` for the
//! library and the CLI). Depends on nothing, so that every module may use it.

/// The URL as it may be shown: a password in it (`scheme://user:PASSWORD@host`, one for every
/// node of a cluster list, or a `pass=`/`password=` query parameter) replaced by `***`.
/// Everything this package prints, logs or puts in an error shows URLs through this (the CLI
/// too, through the binding's `redactUrl`). It errs on the side of hiding: a password is taken
/// to run to the last `@` (passwords may hold `/`, `?` or `@` unencoded), which hides more
/// than the password of a URL whose path holds `:` and `@`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    if scheme.eq_ignore_ascii_case("sqlite") || scheme.eq_ignore_ascii_case("file") {
        return url.to_owned();
    }
    // Password parameters first: their values may hold an `@` that is not the userinfo's.
    let mut rest = redact_password_params(rest);
    if let Some(at) = rest.rfind('@') {
        if let Some(colon) = rest[..at].find(':') {
            rest.replace_range(colon + 1..at, "***");
        }
    }
    format!("{scheme}://{rest}")
}

/// `pass=…` and `password=…` query parameters with their values (to the next `&` or `#`)
/// replaced by `***`.
fn redact_password_params(rest: &str) -> String {
    let Some(query_at) = rest.find('?') else { return rest.to_owned() };
    let (head, query) = rest.split_at(query_at + 1);
    let (query, fragment) = query.split_once('#').map_or((query, None), |(q, f)| (q, Some(f)));
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            // Decoded first, as the drivers decode it: `pass%77ord` is a password too.
            Some((key, _)) if ["pass", "password"].contains(&query_key(key).to_ascii_lowercase().as_str()) => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    let mut out = format!("{head}{}", pairs.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// A URL query parameter's name as the drivers read it (form encoding: `%XX` escapes decoded,
/// `+` a space). Bytes that do not decode to UTF-8 are replaced, so such a name matches no
/// known one.
pub fn query_key(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_and_nothing_else() {
        for (url, shown) in [
            ("redis://user:s3cret@host:6379/2", "redis://user:***@host:6379/2"),
            ("rediss://:s3cret@host", "rediss://:***@host"),
            ("redis+cluster://:s3cret@10.0.0.1:7000,10.0.0.2:7001", "redis+cluster://:***@10.0.0.1:7000,10.0.0.2:7001"),
            ("redis://u:p@ss:w@rd@host/0", "redis://u:***@host/0"),
            ("redis://host:6379/0?password=s3cret&db=1", "redis://host:6379/0?password=***&db=1"),
            ("redis+unix:///tmp/a:b/r.sock?pass=hid@den", "redis+unix:///tmp/a:b/r.sock?pass=***"),
            ("redis+unix:///tmp/r.sock?user=a:b&pass=s3cret", "redis+unix:///tmp/r.sock?user=a:b&pass=***"),
            ("postgres://u@h/db?pass%77ord=s3cret", "postgres://u@h/db?pass%77ord=***"),
            ("postgres://u@h/db?PASS%57ORD=s3cret&x=1", "postgres://u@h/db?PASS%57ORD=***&x=1"),
            ("redis://u:p/ss@host/0", "redis://u:***@host/0"),
            ("redis://u:p?x@host", "redis://u:***@host"),
            ("redis://user@host", "redis://user@host"),
            ("sqlite:///var/lib/a:b@c.db", "sqlite:///var/lib/a:b@c.db"),
            ("sqlite:/var/lib/a:b@c.db", "sqlite:/var/lib/a:b@c.db"),
            ("./auth.db", "./auth.db"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    #[test]
    fn query_keys_are_decoded_as_the_drivers_decode_them() {
        for (key, decoded) in [
            ("ssl-mode", "ssl-mode"),
            ("ssl%2Dmode", "ssl-mode"),
            ("a+b", "a b"),
            ("100%", "100%"),
            ("%4", "%4"),
            ("%zz", "%zz"),
            ("%FF", "\u{fffd}"),
        ] {
            assert_eq!(query_key(key), decoded, "{key}");
        }
    }
}
