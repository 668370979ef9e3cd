//! Memory per pending invitation: the hub's heap growth while K invitations ring, divided
//! by K. Counted by a global allocator around the call state machine alone, so neither
//! sockets nor SQLite's page cache (bounded, not per invitation) blur it; every batch is
//! taken and dropped as the storage thread would. Run with
//! `cargo bench -p beckon-server --bench pending_invitations`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use beckon_protocol::{CallInvite, CallMode, IceConfig, RequestBody};
use beckon_server::core::{Hub, HubConfig, Input, LoginInput};

/// Live bytes as asked for, and as glibc's malloc holds them: 8 bytes of header, rounded
/// up to 16, at least 32. RSS pays the second.
struct Counting;

static ASKED: AtomicIsize = AtomicIsize::new(0);
static HELD: AtomicIsize = AtomicIsize::new(0);

fn held(size: usize) -> isize {
    (((size + 8 + 15) & !15).max(32)) as isize
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ASKED.fetch_add(layout.size() as isize, Ordering::Relaxed);
        HELD.fetch_add(held(layout.size()), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        ASKED.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        HELD.fetch_sub(held(layout.size()), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ASKED.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        HELD.fetch_add(held(new_size) - held(layout.size()), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> (isize, isize) {
    (ASKED.load(Ordering::Relaxed), HELD.load(Ordering::Relaxed))
}

/// Pending invitations measured in each case.
const K: usize = 20_000;
const T0: u64 = 1_700_000_000_000;

fn main() {
    println!("memory per pending invitation ({K} ringing; the hub's heap, goal <= 300 B):");
    for invitees in [1, 4] {
        let (asked, held) = measure(invitees);
        println!(
            "  {invitees} invitee(s) per call: {held:.0} B held by malloc ({asked:.0} B asked for)"
        );
    }
}

/// Heap growth per ringing invitee with `per_call` invitees in each call.
fn measure(per_call: usize) -> (f64, f64) {
    let calls = K / per_call;
    let users = calls * (1 + per_call);
    let mut hub = Hub::new(
        HubConfig::default(),
        Box::new(|| uuid::Uuid::new_v4().simple().to_string()),
    );
    let feed = |hub: &mut Hub, input: Input| {
        hub.handle(T0, input);
        drop(hub.take_batch());
    };
    for u in 0..users {
        let login = LoginInput {
            // Session u + 1 is user u's.
            session: u as u64 + 1,
            req: 1,
            user_id: format!("user{u}"),
            user_name: format!("User {u}"),
            device_id: Some(format!("device{u}")),
            ice: IceConfig::default(),
            started: Instant::now(),
        };
        feed(&mut hub, Input::Login(login));
    }
    let before = live();
    for c in 0..calls {
        let caller = c * (1 + per_call);
        let invitees = (1..=per_call)
            .map(|i| format!("user{}", caller + i))
            .collect();
        let body = RequestBody::CallInvite(CallInvite {
            invitees,
            timeout: Some(60),
            mode: CallMode::Normal,
            extended_data: String::new(),
            push_config: None,
        });
        let input = Input::Request {
            session: caller as u64 + 1,
            req: 2,
            body,
            started: Instant::now(),
        };
        feed(&mut hub, input);
    }
    let after = live();
    let stats = hub.stats();
    assert_eq!(stats.started, calls, "every call is still ringing");
    assert_eq!(hub.pending_timers(), K, "one timer per pending invitee");
    let per = |a: isize, b: isize| (b - a) as f64 / K as f64;
    (per(before.0, after.0), per(before.1, after.1))
}
