//! Settles a store's promises on the JavaScript thread, in the order the store finished
//! the operations.
//!
//! Each store has one thread-safe function (a FIFO queue into the JavaScript thread). The
//! worker thread finishes operations in issue order and queues each result here, so promises
//! also settle in issue order: a caller that acts on each resolution (acknowledging a
//! message upstream, say) never sees a later write confirmed before an earlier one. One
//! queue per store is also cheaper than a thread-safe function per call.
//!
//! The queue keeps the Node process alive only while an operation is pending, like any
//! other I/O: an idle open store does not prevent the process from exiting.

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use napi::sys;

use super::reply::Reply;
use super::value::{create_string, napi_ok};
use crate::core::error::StoreError;

/// Hands an operation's result to its promise; callable from any thread, once.
pub(crate) type Settle = Box<dyn FnOnce(Result<Reply, StoreError>) + Send>;

pub(crate) struct Settler {
    queue: Arc<Queue>,
    /// Promises created and not yet settled; touched on the JavaScript thread only.
    pending: AtomicUsize,
}

/// The thread-safe function, until either we release it or Node finalizes it. When Node
/// shuts down it frees thread-safe functions on its own, possibly before our objects are
/// dropped; its finalizer empties this slot so that nothing touches the freed function.
///
/// `on_js_thread` is the same function for the JavaScript thread's own uses (refs and unrefs,
/// twice per awaited call), read without the lock: a worker holds the lock while it queues a
/// result, which wakes the JavaScript thread, and taking the lock there at that moment made
/// the woken thread wait for the worker again, a second wake-up per call (measured: 5% of the
/// JavaScript thread's time in `lock_contended` on awaited calls). It needs no lock: Node
/// finalizes the function on the JavaScript thread, which also empties this copy, and we
/// release it only once the [`Settler`] is dropped, after its last use.
struct Queue {
    slot: Mutex<Option<Tsfn>>,
    on_js_thread: AtomicPtr<sys::napi_threadsafe_function__>,
}

#[derive(Clone, Copy)]
struct Tsfn(sys::napi_threadsafe_function);

// A thread-safe function is made to be called from any thread.
unsafe impl Send for Tsfn {}

/// A `napi_deferred` travelling to the worker and back; it is only used on the JS thread.
struct Deferred(sys::napi_deferred);
unsafe impl Send for Deferred {}

struct Completion {
    deferred: Deferred,
    result: Result<Reply, StoreError>,
    settler: Arc<Settler>,
}

impl Settler {
    pub(crate) fn new(env: sys::napi_env) -> Result<Arc<Settler>, StoreError> {
        let mut name = ptr::null_mut();
        napi_ok(create_string(env, "baileys-rust-auth", &mut name))?;
        let queue = Arc::new(Queue { slot: Mutex::new(None), on_js_thread: AtomicPtr::new(ptr::null_mut()) });
        let finalize_data = Arc::into_raw(Arc::clone(&queue)) as *mut c_void;
        let mut tsfn = ptr::null_mut();
        let created = napi_ok(unsafe {
            sys::napi_create_threadsafe_function(
                env,
                ptr::null_mut(),
                ptr::null_mut(),
                name,
                0, // unbounded: a worker never blocks on the JavaScript thread
                1,
                finalize_data,
                Some(forget_queue),
                ptr::null_mut(),
                Some(settle_on_js_thread),
                &mut tsfn,
            )
        });
        if let Err(err) = created {
            drop(unsafe { Arc::from_raw(finalize_data as *const Queue) });
            return Err(err);
        }
        *queue.lock() = Some(Tsfn(tsfn));
        queue.on_js_thread.store(tsfn, Ordering::Relaxed);
        unsafe { sys::napi_unref_threadsafe_function(env, tsfn) };
        Ok(Arc::new(Settler { queue, pending: AtomicUsize::new(0) }))
    }

    /// A new promise and the callback that settles it.
    pub(crate) fn promise(self: &Arc<Self>, env: sys::napi_env) -> Result<(sys::napi_value, Settle), StoreError> {
        let mut deferred = ptr::null_mut();
        let mut promise = ptr::null_mut();
        napi_ok(unsafe { sys::napi_create_promise(env, &mut deferred, &mut promise) })?;
        if self.pending.fetch_add(1, Ordering::Relaxed) == 0 {
            self.keep_process_alive(env, true);
        }
        let settler = Arc::clone(self);
        let deferred = Deferred(deferred);
        let settle: Settle = Box::new(move |result| {
            let queue = Arc::clone(&settler.queue);
            let completion = Box::into_raw(Box::new(Completion { deferred, result, settler }));
            // Held across the call so that Node cannot free the function meanwhile.
            let slot = queue.lock();
            let status = match *slot {
                Some(tsfn) => unsafe {
                    sys::napi_call_threadsafe_function(tsfn.0, completion.cast(), sys::ThreadsafeFunctionCallMode::nonblocking)
                },
                None => sys::Status::napi_closing,
            };
            drop(slot);
            if status != sys::Status::napi_ok {
                // Node is shutting down: there is no JavaScript left to tell.
                drop(unsafe { Box::from_raw(completion) });
            }
        });
        Ok((promise, settle))
    }

    /// Refs or unrefs the queue's hold on the event loop (JavaScript thread only; without the
    /// lock, see [`Queue`]).
    fn keep_process_alive(&self, env: sys::napi_env, alive: bool) {
        let tsfn = self.queue.on_js_thread.load(Ordering::Relaxed);
        if tsfn.is_null() {
            return;
        }
        unsafe {
            if alive {
                sys::napi_ref_threadsafe_function(env, tsfn);
            } else {
                sys::napi_unref_threadsafe_function(env, tsfn);
            }
        }
    }
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Tsfn>> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Settler {
    fn drop(&mut self) {
        let tsfn = self.queue.lock().take();
        if let Some(tsfn) = tsfn {
            unsafe { sys::napi_release_threadsafe_function(tsfn.0, sys::ThreadsafeFunctionReleaseMode::release) };
        }
    }
}

/// Node's finalizer of the thread-safe function: after it, the function is gone.
unsafe extern "C" fn forget_queue(_: sys::napi_env, data: *mut c_void, _: *mut c_void) {
    let queue = Arc::from_raw(data as *const Queue);
    queue.on_js_thread.store(ptr::null_mut(), Ordering::Relaxed);
    queue.lock().take();
}

unsafe extern "C" fn settle_on_js_thread(env: sys::napi_env, _: sys::napi_value, _: *mut c_void, data: *mut c_void) {
    let Completion { deferred, result, settler } = *Box::from_raw(data.cast::<Completion>());
    if env.is_null() {
        return; // the environment is being torn down
    }
    match result.and_then(|reply| reply.into_js(env)) {
        Ok(value) => sys::napi_resolve_deferred(env, deferred.0, value),
        Err(err) => sys::napi_reject_deferred(env, deferred.0, error_value(env, &err)),
    };
    if settler.pending.fetch_sub(1, Ordering::Relaxed) == 1 {
        settler.keep_process_alive(env, false);
    }
}

/// A JS `Error` whose `code` is the error's stable code; `ERR_SESSION_LOCKED` also carries
/// `owner`: `{ host, pid, acquiredAt, expiresAt }` (the times as `Date`s).
pub(crate) fn error_value(env: sys::napi_env, err: &StoreError) -> sys::napi_value {
    let (mut code, mut message, mut error) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    create_string(env, err.code(), &mut code);
    create_string(env, &err.to_string(), &mut message);
    unsafe { sys::napi_create_error(env, code, message, &mut error) };
    if let StoreError::SessionLocked { owner, .. } = err {
        unsafe { set_owner(env, error, owner) };
    }
    error
}

/// Sets `error.owner`. Failures leave the error without it (it still has its code and message).
unsafe fn set_owner(env: sys::napi_env, error: sys::napi_value, owner: &crate::core::lease::LeaseOwner) {
    let mut object = ptr::null_mut();
    if sys::napi_create_object(env, &mut object) != sys::Status::napi_ok {
        return;
    }
    let set = |name: &str, value: sys::napi_value| {
        let mut key = ptr::null_mut();
        create_string(env, name, &mut key);
        sys::napi_set_property(env, object, key, value);
    };
    let (mut host, mut pid, mut acquired, mut expires) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    create_string(env, &owner.host, &mut host);
    sys::napi_create_uint32(env, owner.pid, &mut pid);
    sys::napi_create_date(env, owner.acquired_at_ms as f64, &mut acquired);
    sys::napi_create_date(env, owner.expires_at_ms as f64, &mut expires);
    set("host", host);
    set("pid", pid);
    set("acquiredAt", acquired);
    set("expiresAt", expires);
    let mut key = ptr::null_mut();
    create_string(env, "owner", &mut key);
    sys::napi_set_property(env, error, key, object);
}
