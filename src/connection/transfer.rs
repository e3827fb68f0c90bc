//! File transfer: what `write_from` and `checksum` of the Host API do on
//! every connection, so a big file never sits whole in memory.
//!
//! A write that replaces a file goes to a temporary file in the
//! destination's directory, which gets the replaced file's mode and owner,
//! and is then renamed over the destination: readers see the old file or
//! the new one, never a half-written one. A new file is made with the
//! requested mode; small text is written in place, and removed if the
//! write fails (see [`write_script`]).
//!
//! Over a persistent shell (SSH, local become) the bytes travel as the
//! shell request's standard input, read from their source and sent in
//! chunks of [`CHUNK`] bytes, so the transport's flow control paces
//! them and herd holds one chunk at a time. The driver stores that input
//! in its private temporary directory (`$HERD_TMPDIR/i`); the transfer
//! script moves it into place (a rename when both are on one file
//! system) and checks its size, so a transfer cut short never replaces
//! the destination. A file already on the host is copied there.
//!
//! A checksum is sha1, the one Ansible's copy compares: on the host with
//! `sha1sum`, else `shasum -a 1`, else `openssl dgst -sha1`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use herd_modules::api::{shell_quote, HostError, Source};
use sha1::{Digest, Sha1};
use tokio::io::AsyncRead;

/// Bytes read from a source and sent at a time.
pub const CHUNK: usize = 256 * 1024;

/// A source opened for sending: a reader and the number of bytes it
/// holds.
pub type Reader<'a> = (Box<dyn AsyncRead + Send + Unpin + 'a>, u64);

/// Where the temporary file of a write to `path` goes: beside it, hidden,
/// with `tag` making it unique.
pub fn temp_path(path: &str, tag: &str) -> String {
    match split(path) {
        ("/", name) => format!("/.{name}.herd-{tag}.tmp"),
        (dir, name) => format!("{dir}/.{name}.herd-{tag}.tmp"),
    }
}

/// A path's directory and file name (`.` when it has no slash).
fn split(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (".", path),
    }
}

/// Opens a source that travels from the controller; `None` for a file
/// already on the host.
pub async fn open<'a>(src: &Source<'a>) -> Result<Option<Reader<'a>>, HostError> {
    match *src {
        Source::Bytes(data) => Ok(Some((Box::new(data), data.len() as u64))),
        Source::LocalFile(path) => {
            let fail = |e: std::io::Error| {
                HostError::failed(format!("could not read {}: {e}", path.display()))
            };
            let file = tokio::fs::File::open(path).await.map_err(fail)?;
            let len = file.metadata().await.map_err(fail)?.len();
            Ok(Some((Box::new(file), len)))
        }
        Source::HostFile(_) => Ok(None),
    }
}

/// Where the bytes of a shell write come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill<'a> {
    /// The request's standard input, of this length.
    Stdin(u64),
    /// A file on the host.
    HostFile(&'a str),
    /// Small text that travels inside the script itself (see
    /// [`inline`]): no input to store, no size to check.
    Inline(&'a str),
}

/// Sources up to this size travel inside the write script.
const INLINE_MAX: usize = 16 * 1024;

/// The bytes of a small source that can travel inside a shell script as
/// one quoted word: UTF-8 without NUL (a shell string cannot hold NUL).
/// Writing them takes the `printf` builtin instead of `head`, `wc` and a
/// rename of the driver's input file, a few processes fewer per write.
pub fn inline<'a>(src: &Source<'a>) -> Option<&'a str> {
    match *src {
        Source::Bytes(data) if data.len() <= INLINE_MAX && !data.contains(&0) => {
            std::str::from_utf8(data).ok()
        }
        _ => None,
    }
}

/// The shell script of a write to `path` through `tmp`.
///
/// A file that exists is replaced: the temporary file is created
/// private, filled, given the old file's mode and owner, then renamed
/// over. A new file whose mode the umask can give (no execute or special
/// bits) is created with that mode, so no `chmod` runs; small text is
/// then written in place (one `write` of the `printf` builtin, the file
/// removed if it fails), other content still through the temporary file
/// and a rename.
///
/// With `own` (the session's umask, as `umask` printed it) and small
/// text, the script is one of herd's own, run in the driver shell
/// itself: a new file is written there, the umask set for its mode and
/// set back after; a file to replace (which takes the private temporary
/// file) is written in a subshell. It ends with `return`, never `exit`.
pub fn write_script(
    path: &str,
    tmp: &str,
    fill: Fill<'_>,
    mode: Option<u32>,
    own: Option<&str>,
) -> String {
    let (p, t) = (shell_quote(path), shell_quote(tmp));
    let mode = mode.unwrap_or(0o644);
    let (text, into) = match fill {
        Fill::Stdin(len) => (
            String::new(),
            format!(
                // The driver's copy of the input is taken as it is (kept
                // private until it is in place); a size that differs
                // means the transfer was cut short. wc's output may be
                // padded: unquoted.
                "f=\"$HERD_TMPDIR/i\"\n\
                 {{ [ -f \"$f\" ] && chmod 600 \"$f\" && mv -f -- \"$f\" {t}; }} || cat >{t} || {{ rm -f {t}; exit 1; }}\n\
                 [ $(wc -c <{t}) -eq {len} ] || {{ rm -f {t}; echo 'the transfer was cut short' >&2; exit 1; }}\n"
            ),
        ),
        Fill::HostFile(src) => (
            String::new(),
            format!(
                "cat -- {} >{t} || {{ rm -f {t}; exit 1; }}\n",
                shell_quote(src)
            ),
        ),
        // The text is quoted once, in a variable both branches use.
        Fill::Inline(text) => (
            format!("x={}\n", shell_quote(text)),
            format!("printf %s \"$x\" >{t} || {{ rm -f {t}; exit 1; }}\n"),
        ),
    };
    let by_umask = mode & 0o7111 == 0 && !matches!(fill, Fill::Stdin(_));
    let renamed = format!(
        "umask 077\n{into}chmod {mode:o} {t} && mv -f {t} {p} || {{ rm -f {t}; exit 1; }}\n"
    );
    let replaced = format!(
        "umask 077\n\
         {into}\
         o=$(stat -L -c '%a %u:%g' {p}) || {{ rm -f {t}; exit 1; }}; m=${{o%% *}}; chown \"${{o#* }}\" {t} 2>/dev/null\n\
         chmod \"$m\" {t} && mv -f {t} {p} || {{ rm -f {t}; exit 1; }}\n"
    );
    let new_umask = !mode & 0o777;
    let (replaced, renamed, new) = match (own, &fill) {
        // In the driver: what changes the umask for more than one
        // builtin runs in a subshell; a new file's umask is set back.
        (Some(session), Fill::Inline(_)) => {
            let sub = |branch: &str| format!("( {branch}) || return 1\n");
            let new = if by_umask {
                format!(
                    "umask {new_umask:03o}\nprintf %s \"$x\" >{p} || {{ umask {session}; rm -f {p}; return 1; }}\numask {session}\n"
                )
            } else {
                sub(&renamed)
            };
            (sub(&replaced), sub(&renamed), new)
        }
        _ => {
            let new = if by_umask && matches!(fill, Fill::Inline(_)) {
                format!(
                    "umask {new_umask:03o}\nprintf %s \"$x\" >{p} || {{ rm -f {p}; exit 1; }}\n"
                )
            } else if by_umask {
                format!("umask {new_umask:03o}\n{into}mv -f {t} {p} || {{ rm -f {t}; exit 1; }}\n")
            } else {
                renamed.clone()
            };
            (replaced, renamed, new)
        }
    };
    // A dangling link is replaced by the file, not followed.
    format!(
        "{text}if [ -e {p} ]; then\n\
         {replaced}\
         elif [ -L {p} ]; then\n\
         {renamed}\
         else\n\
         {new}\
         fi\n"
    )
}

/// The shell script printing the sha1 of `path`, run in the driver (see
/// `Shell::run_own`); status 44: missing,
/// 45: no tool to compute it.
pub fn checksum_script(path: &str) -> String {
    let p = shell_quote(path);
    format!(
        "[ -e {p} ] || return 44\n\
         if command -v sha1sum >/dev/null 2>&1; then sha1sum <{p}\n\
         elif command -v shasum >/dev/null 2>&1; then shasum -a 1 <{p}\n\
         elif command -v openssl >/dev/null 2>&1; then openssl dgst -sha1 <{p}\n\
         else echo 'no sha1 tool on the host (sha1sum, shasum or openssl)' >&2; return 45; fi\n"
    )
}

/// The checksum in the output of [`checksum_script`]: the first word of
/// 40 hex digits (`HEX  -` from sha1sum, `SHA1(stdin)= HEX` from openssl).
pub fn parse_checksum(stdout: &str) -> Option<String> {
    stdout
        .split(|c: char| c.is_whitespace())
        .find(|w| w.len() == 40 && w.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|w| w.to_ascii_lowercase())
}

/// sha1 of a file on this machine, read in chunks on a blocking thread;
/// `None` when it does not exist.
pub async fn local_checksum(path: &str) -> Result<Option<String>, HostError> {
    let owned = path.to_string();
    let r = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        use std::io::Read;
        let mut f = std::fs::File::open(&owned)?;
        let mut hasher = Sha1::new();
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    })
    .await
    .map_err(|e| HostError::failed(format!("could not checksum {path}: {e}")))?;
    match r {
        Ok(sum) => Ok(Some(sum)),
        Err(e) if missing(&e) => Ok(None),
        Err(e) => Err(HostError::failed(format!("could not checksum {path}: {e}"))),
    }
}

/// Nothing is at the path: not found, or a parent is not a directory
/// (the shell's `[ -e ]` says the same over a remote connection).
pub fn missing(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

/// A write on this machine (the `local` connection without become): the
/// source is copied into the temporary file by the kernel or in chunks,
/// then it is given its mode and owner and renamed over `path`.
pub async fn local_write(path: &str, src: Source<'_>, mode: Option<u32>) -> Result<(), HostError> {
    let target = Path::new(path);
    let fail = |what: &str, e: std::io::Error| {
        HostError::failed(format!("could not {what} {}: {e}", target.display()))
    };
    let existing = std::fs::metadata(target).ok();
    let tmp = temp_path(path, &std::process::id().to_string());
    let filled = match src {
        Source::Bytes(data) => tokio::fs::write(&tmp, data).await,
        Source::LocalFile(from) => tokio::fs::copy(from, &tmp).await.map(|_| ()),
        Source::HostFile(from) => tokio::fs::copy(from, &tmp).await.map(|_| ()),
    };
    if let Err(e) = filled {
        let _ = std::fs::remove_file(&tmp);
        return Err(match src {
            Source::Bytes(_) => fail("write", e),
            Source::LocalFile(from) => fail(&format!("copy {} to", from.display()), e),
            Source::HostFile(from) => fail(&format!("copy {from} to"), e),
        });
    }
    let result = (|| {
        let mode = existing
            .as_ref()
            .map(|m| m.mode() & 0o7777)
            .or(mode)
            .unwrap_or(0o644);
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
        if let Some(m) = &existing {
            // Keeping the owner needs the right to give it away; as an
            // unprivileged user a replaced file is ours anyway.
            let _ = std::os::unix::fs::chown(&tmp, Some(m.uid()), Some(m.gid()));
        }
        std::fs::rename(&tmp, target)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail("replace", e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_paths_sit_beside_the_file() {
        assert_eq!(temp_path("/etc/a b", "x"), "/etc/.a b.herd-x.tmp");
        assert_eq!(temp_path("/f", "x"), "/.f.herd-x.tmp");
        assert_eq!(temp_path("f", "x"), "./.f.herd-x.tmp");
    }

    #[test]
    fn checksums_are_found_in_each_tool_output() {
        let h = "f572d396fae9206628714fb2ce00f72e94f2258f";
        assert_eq!(parse_checksum(&format!("{h}  -\n")).as_deref(), Some(h));
        assert_eq!(
            parse_checksum(&format!("SHA1(stdin)= {}\n", h.to_uppercase())).as_deref(),
            Some(h)
        );
        assert_eq!(parse_checksum("nothing here\n"), None);
    }

    #[tokio::test]
    async fn local_checksum_streams_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"hello\n").unwrap();
        let p = p.to_str().unwrap();
        assert_eq!(
            local_checksum(p).await.unwrap().as_deref(),
            Some("f572d396fae9206628714fb2ce00f72e94f2258f")
        );
        assert_eq!(local_checksum(&format!("{p}.no")).await.unwrap(), None);
        // Below a file is nowhere, as the shell's `[ -e ]` has it.
        assert_eq!(local_checksum(&format!("{p}/below")).await.unwrap(), None);
    }
}
