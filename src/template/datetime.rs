//! `now()` and the `strftime` filter: times on the controller, formatted
//! by the C library's `strftime`, as Python's `time.strftime` does.

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Rest, Value as Mj};
use minijinja::{Environment, Error, State};

use super::args::Args;
use super::convert::py_str_mj;
use super::op_error;

/// A point in time, broken down in local time or UTC.
#[derive(Debug, Clone)]
struct DateTime {
    secs: i64,
    micros: u32,
    utc: bool,
}

impl DateTime {
    fn now(utc: bool) -> DateTime {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        DateTime {
            secs: d.as_secs() as i64,
            micros: d.subsec_micros(),
            utc,
        }
    }

    fn tm(&self) -> libc::tm {
        // SAFETY: `tm` is plain old data; gmtime_r/localtime_r fill it from
        // a valid time_t and do not keep the pointers.
        unsafe {
            let mut tm: libc::tm = std::mem::zeroed();
            let t: libc::time_t = self.secs as libc::time_t;
            if self.utc {
                libc::gmtime_r(&t, &mut tm);
            } else {
                libc::localtime_r(&t, &mut tm);
            }
            tm
        }
    }

    fn format(&self, fmt: &str) -> Result<String, Error> {
        let tm = self.tm();
        // Python's `%f` (microseconds) is not known to C's strftime.
        let fmt = fmt.replace("%f", &format!("{:06}", self.micros));
        let cfmt = std::ffi::CString::new(fmt)
            .map_err(|_| op_error("strftime: the format must not contain NUL characters"))?;
        let mut buf = vec![0u8; 512];
        // SAFETY: the buffer length is passed; strftime writes at most that
        // many bytes and returns how many it wrote.
        let n = unsafe {
            libc::strftime(
                buf.as_mut_ptr() as *mut libc::c_char,
                buf.len(),
                cfmt.as_ptr(),
                &tm,
            )
        };
        buf.truncate(n);
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    fn field(&self, name: &str) -> Option<i64> {
        let tm = self.tm();
        Some(match name {
            "year" => tm.tm_year as i64 + 1900,
            "month" => tm.tm_mon as i64 + 1,
            "day" => tm.tm_mday as i64,
            "hour" => tm.tm_hour as i64,
            "minute" => tm.tm_min as i64,
            "second" => tm.tm_sec as i64,
            "microsecond" => self.micros as i64,
            _ => return None,
        })
    }
}

impl Object for DateTime {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Mj) -> Option<Mj> {
        self.field(key.as_str()?).map(Mj::from)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::NonEnumerable
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Mj],
    ) -> Result<Mj, Error> {
        match method {
            "strftime" => {
                let fmt = args.first().map(py_str_mj).unwrap_or_default();
                Ok(Mj::from(self.format(&fmt)?))
            }
            "isoformat" => Ok(Mj::from(self.format("%Y-%m-%dT%H:%M:%S.%f")?)),
            "timestamp" => Ok(Mj::from(self.secs as f64 + self.micros as f64 / 1e6)),
            other => Err(op_error(format!("datetime has no method '{other}'"))),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.format("%Y-%m-%d %H:%M:%S.%f") {
            Ok(s) => f.write_str(&s),
            Err(_) => Err(std::fmt::Error),
        }
    }
}

pub fn register(env: &mut Environment<'static>) {
    env.add_function("now", |args: Rest<Mj>| -> Result<Mj, Error> {
        let a = Args::bind("now", &["utc", "fmt"], &args.0)?;
        let dt = DateTime::now(a.bool_or("utc", false));
        match a.opt_str("fmt") {
            Some(fmt) => Ok(Mj::from(dt.format(&fmt)?)),
            None => Ok(Mj::from_object(dt)),
        }
    });
    env.add_filter("strftime", |v: Mj, args: Rest<Mj>| -> Result<Mj, Error> {
        let a = Args::bind("strftime", &["second", "utc"], &args.0)?;
        super::filters::defined(&v)?;
        let mut dt = DateTime::now(a.bool_or("utc", false));
        if let Some(sec) = a.get("second").filter(|s| !s.is_none()) {
            let f = f64::try_from(sec.clone())
                .or_else(|_| py_str_mj(sec).parse::<f64>())
                .map_err(|_| op_error(format!("Invalid value for epoch value ({sec})")))?;
            dt.secs = f.trunc() as i64;
            dt.micros = ((f - f.trunc()) * 1e6) as u32;
        }
        Ok(Mj::from(dt.format(&py_str_mj(&v))?))
    });
}
