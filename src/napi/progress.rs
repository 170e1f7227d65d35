//! Tells a JavaScript function how a long operation on a worker thread goes, and waits for it
//! to return each time: the operation goes on only once JavaScript has been told, so that a
//! caller that stops in its callback (a test about to kill the process) stops the operation
//! where it stands. A callback that throws is ignored (the operation goes on).

use std::ffi::c_void;
use std::ptr;
use std::sync::mpsc::{channel, Sender};

use napi::sys;

use super::value::{create_string, napi_ok};
use crate::core::error::StoreError;

/// A JavaScript function, callable from any thread (a thread-safe function). It keeps the
/// process alive until dropped.
pub(crate) struct Progress(sys::napi_threadsafe_function);

// A thread-safe function is made to be called from any thread.
unsafe impl Send for Progress {}

/// One call: `{ session, done, total }`, and who waits for it to return.
struct Call {
    session: String,
    done: f64,
    total: f64,
    returned: Sender<()>,
}

impl Progress {
    /// `func` (a function: the caller checked) as a thread-safe function.
    pub(crate) fn new(env: sys::napi_env, func: sys::napi_value) -> Result<Progress, StoreError> {
        let mut name = ptr::null_mut();
        napi_ok(create_string(env, "baileys-rust-auth progress", &mut name))?;
        let mut tsfn = ptr::null_mut();
        napi_ok(unsafe {
            sys::napi_create_threadsafe_function(
                env,
                func,
                ptr::null_mut(),
                name,
                0,
                1,
                ptr::null_mut(),
                None,
                ptr::null_mut(),
                Some(call_on_js_thread),
                &mut tsfn,
            )
        })?;
        Ok(Progress(tsfn))
    }

    /// Calls the function with `{ session, done, total }` and returns once it has returned
    /// (at once if Node is shutting down).
    pub(crate) fn tell(&self, session: &str, done: usize, total: usize) {
        let (returned, wait) = channel();
        let call = Box::into_raw(Box::new(Call { session: session.to_owned(), done: done as f64, total: total as f64, returned }));
        let status = unsafe { sys::napi_call_threadsafe_function(self.0, call.cast(), sys::ThreadsafeFunctionCallMode::blocking) };
        if status != sys::Status::napi_ok {
            drop(unsafe { Box::from_raw(call) });
            return;
        }
        // An error: the call was dropped unmade (the environment is being torn down).
        let _ = wait.recv();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        unsafe { sys::napi_release_threadsafe_function(self.0, sys::ThreadsafeFunctionReleaseMode::release) };
    }
}

unsafe extern "C" fn call_on_js_thread(env: sys::napi_env, func: sys::napi_value, _: *mut c_void, data: *mut c_void) {
    let call = *Box::from_raw(data.cast::<Call>());
    if env.is_null() || func.is_null() {
        return;
    }
    let mut event = ptr::null_mut();
    if sys::napi_create_object(env, &mut event) == sys::Status::napi_ok {
        let mut value = ptr::null_mut();
        if create_string(env, &call.session, &mut value) == sys::Status::napi_ok {
            sys::napi_set_named_property(env, event, c"session".as_ptr(), value);
        }
        for (name, number) in [(c"done", call.done), (c"total", call.total)] {
            let mut value = ptr::null_mut();
            if sys::napi_create_double(env, number, &mut value) == sys::Status::napi_ok {
                sys::napi_set_named_property(env, event, name.as_ptr(), value);
            }
        }
        let (mut this, mut result) = (ptr::null_mut(), ptr::null_mut());
        sys::napi_get_undefined(env, &mut this);
        if sys::napi_call_function(env, this, func, 1, &event, &mut result) != sys::Status::napi_ok {
            let mut thrown = ptr::null_mut();
            sys::napi_get_and_clear_last_exception(env, &mut thrown);
        }
    }
    let _ = call.returned.send(());
}
