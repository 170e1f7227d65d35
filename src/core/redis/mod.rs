//! The Redis backend: one store shared by every process of a fleet.
//!
//! Layout (documented in `docs/redis.md`), for key prefix `baileys` and session `S`:
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `baileys:{S}:creds` | string | the creds (codec blob) |
//! | `baileys:{S}:types` | set | the key types that have at least one key |
//! | `baileys:{S}:keys:<type>` | hash | id → value (codec blob) |
//! | `baileys:{S}:updated` | string | the last write, ms since the epoch (writer's clock) |
//! | `baileys:{S}:lease` | hash | the session's lease: holder, process, epoch, host, pid, acquired, expires (server's clock) |
//! | `baileys:records:<name>` | string | the store's own record `name` ([`Store::meta`]), no TTL |
//!
//! `{S}` is a cluster hash tag: all of a session's keys live in one slot, so every
//! operation on a session is a single-slot command or script, on a standalone server and on
//! a cluster alike. Values use the same codec as SQLite, so moving a session between
//! backends is a copy.
//!
//! Leases (`docs/ownership.md`): the lease hash is read and written only by scripts, which
//! take the time from the server (`TIME`), so one lease is measured by one clock whichever
//! client looks. Every write script checks the fence before its first write (see
//! `refuse_write` in `scripts/common.lua`): the check and the write are one atomic script. A
//! refused write returns a lease reply (not an error reply), which `lease_outcome` turns into
//! `ERR_SESSION_LOCKED` or `ERR_SESSION_FENCED`. The lease hash is not session data: it
//! survives `delete_session` and is not listed by `sessions`; with a TTL it shares the session's
//! deadline but never ends before the lease (see `keep_lease` in `scripts/common.lua`).
//!
//! Every operation is one round trip: reads are one `GET`/`HMGET`, writes one Lua script,
//! which Redis runs atomically. A script checks the types of the keys it will write
//! before writing anything, so it never stops halfway. The inspection calls (`list_keys`,
//! `stats`, `sessions`, `leases`) are the exception: they walk the data in pages, see
//! `scripts/list_page.lua` (`leases` scans for lease hashes, then reads each in a round trip).
//!
//! Pipelining ([`Store::write_group`]): the creds saves and key batches queued together on one
//! store go out as one pipeline of their `EVALSHA`s, one round trip for all; each script stays
//! atomic on its own and each reply is its own write's result (a refused or failed script fails
//! only its write). Scripts Redis does not know yet (`NOSCRIPT`) are loaded and those writes
//! sent again, in issue order (see `send_pipeline`). Each write has its own deadline: one
//! that waited in line past it fails alone, unsent. On a cluster, writes go one by one (a
//! pipeline there could span nodes).
//!
//! Deadlines: `commandTimeoutMs` bounds one round trip. The first round trip of an operation
//! is counted from when the operation was issued (waiting in line behind others counts);
//! each later page of a paged walk gets a deadline of its own, so listing 100,000 keys takes
//! as many round trips as it needs, however long they take together.
//!
//! The [`Store`] trait is synchronous, because each store runs on a thread of its own (see
//! [`Executor`](crate::core::executor::Executor)); this backend owns a single-threaded Tokio
//! runtime on that thread and one multiplexed connection, which reconnects by itself.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, Pipeline, RedisFuture, Script, Value};

mod options;

pub use options::{RedisOptions, RedisTarget, MAX_TIMEOUT, MAX_TTL};

use crate::core::error::{Result, StoreError};
use crate::core::lease::{self, Claim, Fence, LeaseInfo, LeaseOwner, LeaseRequest};
use crate::core::store::{now_millis, KeyInfo, KeyWrite, KindStats, SessionStats, Store, Write};

/// One connection, to a server or to a cluster.
enum Connection {
    Server(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Server(c) => c.req_packed_command(cmd),
            Connection::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(&'a mut self, pipeline: &'a Pipeline, offset: usize, count: usize) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Server(c) => c.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Server(c) => c.get_db(),
            Connection::Cluster(c) => c.get_db(),
        }
    }
}

/// Shared by the session scripts below (KEYS[1] creds, KEYS[2] types, KEYS[3] updated,
/// KEYS[4] lease; ARGV[1] the TTL in ms or 0, ARGV[2] the prefix of the type hashes, ARGV[3]
/// the client's time in ms, ARGV[4] and ARGV[5] the fence's holder and epoch, `''` without a
/// fence; each script's own arguments follow from ARGV[6]). Every script first checks that the
/// session's keys hold what they should (and, if it writes, the fence), so that it fails before
/// writing anything rather than halfway: Redis does not roll back a script that fails. The
/// `updated` stamp comes from the client (a script's `TIME` cannot be mocked or compared with
/// the writer's other clocks); lease times come from the server's `TIME`, so that every client
/// measures a lease by the same clock.
const COMMON_LUA: &str = include_str!("scripts/common.lua");

/// Applies a key batch: ARGV[6..] are (op 'S' or 'D', type, id, value) quadruples.
const APPLY_LUA: &str = include_str!("scripts/apply.lua");

/// Sets the creds (ARGV[6]). A script even without a TTL: a plain `SET` would drop the
/// creds' expiry in a session that a store with a TTL wrote (see `touch`).
const SET_CREDS_LUA: &str = include_str!("scripts/set_creds.lua");

/// Reads the creds, refreshing the session's expiry.
const GET_CREDS_LUA: &str = include_str!("scripts/get_creds.lua");

/// Reads ids of one type (ARGV[6] the type, ARGV[7..] the ids), refreshing the expiry.
/// HMGET goes in chunks: Lua's unpack() takes at most a few thousand values.
const GET_KEYS_LUA: &str = include_str!("scripts/get_keys.lua");

/// Deletes every key of the session but its lease; ARGV[6] is '1' to delete the creds (the
/// whole session) too.
const CLEAR_LUA: &str = include_str!("scripts/clear.lua");

/// The session's summary, from one snapshot: whether it has creds, their length, its types
/// and its last write. Inspection does not refresh the expiry.
const STATS_LUA: &str = include_str!("scripts/stats.lua");

/// One page of a type's hash (KEYS[1]) as (id, value length) pairs: ARGV[1] the `HSCAN`
/// cursor, ARGV[2] the page size. Values stay on the server; a page at a time keeps each
/// call short however large the hash (a single script over 100k ids would block Redis for
/// about 100 ms). `HSCAN` may repeat an id when the hash is resized meanwhile, so callers
/// deduplicate; ids written or deleted during the listing may or may not appear.
const LIST_PAGE_LUA: &str = include_str!("scripts/list_page.lua");

/// Grants the lease (ARGV[6..11]: holder, process, host, pid, lease ms, claim).
const ACQUIRE_LUA: &str = include_str!("scripts/acquire.lua");

/// Extends the lease held under the fence (ARGV[6]: lease ms).
const RENEW_LUA: &str = include_str!("scripts/renew.lua");

/// Releases the lease held under the fence, keeping its epoch.
const RELEASE_LUA: &str = include_str!("scripts/release.lua");

/// Deletes the lease hash if the fence still names it.
const FORGET_LUA: &str = include_str!("scripts/forget.lua");

/// Reads the lease and whether it is live by the server's clock.
const LEASE_LUA: &str = include_str!("scripts/lease.lua");

/// Compares and swaps a store record (KEYS[1]; ARGV: whether a value is expected, the value,
/// whether to set, the new value).
const SWAP_META_LUA: &str = include_str!("scripts/swap_meta.lua");

/// Ids per page of `scripts/list_page.lua`.
const LIST_PAGE_SIZE: u32 = 1000;

struct Scripts {
    apply: Script,
    set_creds: Script,
    /// The code of `apply` and `set_creds`, for the `SCRIPT LOAD`s of a write pipeline
    /// (redis-rs keeps a script's own load command private).
    apply_code: String,
    set_creds_code: String,
    get_creds: Script,
    get_keys: Script,
    clear: Script,
    stats: Script,
    list_page: Script,
    acquire: Script,
    renew: Script,
    release: Script,
    forget: Script,
    lease: Script,
    swap_meta: Script,
}

impl Scripts {
    fn new() -> Self {
        let with_touch = |body: &str| Script::new(&format!("{COMMON_LUA}{body}"));
        Scripts {
            apply: with_touch(APPLY_LUA),
            set_creds: with_touch(SET_CREDS_LUA),
            apply_code: format!("{COMMON_LUA}{APPLY_LUA}"),
            set_creds_code: format!("{COMMON_LUA}{SET_CREDS_LUA}"),
            get_creds: with_touch(GET_CREDS_LUA),
            get_keys: with_touch(GET_KEYS_LUA),
            clear: with_touch(CLEAR_LUA),
            stats: with_touch(STATS_LUA),
            list_page: Script::new(LIST_PAGE_LUA),
            acquire: with_touch(ACQUIRE_LUA),
            renew: with_touch(RENEW_LUA),
            release: with_touch(RELEASE_LUA),
            forget: with_touch(FORGET_LUA),
            lease: with_touch(LEASE_LUA),
            swap_meta: Script::new(SWAP_META_LUA),
        }
    }
}

pub struct RedisStore {
    runtime: tokio::runtime::Runtime,
    connection: Connection,
    options: RedisOptions,
    scripts: Scripts,
    /// See [`Store::identity`]: the server's run id (the masters' node ids on a cluster), the
    /// database and the key prefix.
    identity: String,
    /// The deadline of the current operation's first round trip, set when it is issued (its
    /// issue time plus the command timeout) and used up by that round trip; see
    /// [`RedisStore::round_trip_deadline`].
    issued_deadline: Option<std::time::Instant>,
    /// The deadline of each write of the group about to be written, set by
    /// [`Store::group_issued`] and used up by [`Store::write_group`].
    group_deadlines: Vec<std::time::Instant>,
}

/// The keys of one session.
struct SessionKeys {
    creds: String,
    types: String,
    updated: String,
    /// The lease hash: same hash tag, so same slot, as the session's data.
    lease: String,
    /// Prefix of the per-type hashes: the type name follows.
    hash_prefix: String,
}

impl RedisStore {
    /// Connects to the target; fails with `ERR_STORE_UNAVAILABLE` if it cannot be reached
    /// within the connect timeout.
    pub fn open(target: &RedisTarget, options: RedisOptions) -> Result<Self> {
        options.validate()?;
        Self::connect(target, options).map_err(|err| match err {
            // Say which server (its URL without the password): a fleet's config names several.
            StoreError::Io(m) => StoreError::Io(format!("{}: {m}", target.shown())),
            StoreError::Unavailable(m) => StoreError::Unavailable(format!("{}: {m}", target.shown())),
            other => other,
        })
    }

    fn connect(target: &RedisTarget, options: RedisOptions) -> Result<Self> {
        install_tls_provider();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Io(format!("cannot start the Redis runtime: {e}")))?;
        let connect = async {
            match target {
                RedisTarget::Server(url) => {
                    let client = redis::Client::open(url.as_str()).map_err(invalid_url)?;
                    let config = ConnectionManagerConfig::new()
                        .set_connection_timeout(Some(options.connect_timeout))
                        .set_response_timeout(Some(options.command_timeout))
                        .set_number_of_retries(1)
                        .set_max_delay(Duration::from_millis(500));
                    Ok(Connection::Server(ConnectionManager::new_with_config(client, config).await.map_err(map_error)?))
                }
                RedisTarget::Cluster(nodes) => {
                    let client = ClusterClientBuilder::new(nodes.iter().map(String::as_str))
                        .connection_timeout(options.connect_timeout)
                        .response_timeout(options.command_timeout)
                        .retries(2)
                        .min_retry_wait(50)
                        .max_retry_wait(500)
                        .build()
                        .map_err(invalid_url)?;
                    Ok(Connection::Cluster(client.get_async_connection().await.map_err(map_error)?))
                }
            }
        };
        let connection = runtime.block_on(async {
            tokio::time::timeout(options.connect_timeout, connect)
                .await
                .unwrap_or_else(|_| Err(StoreError::Unavailable("connecting to Redis timed out".into())))
        })?;
        let mut store = RedisStore {
            runtime,
            connection,
            options,
            scripts: Scripts::new(),
            identity: String::new(),
            issued_deadline: None,
            group_deadlines: Vec::new(),
        };
        store.check()?;
        store.identity = store.server_identity(target)?;
        Ok(store)
    }

    /// What data this store reaches, the same through every URL that reaches it (see
    /// [`Store::identity`]):
    /// - a standalone server: `redis:<replication id>:db<n>:<prefix>`. A primary and its
    ///   replicas share the replication id (`master_replid`), so a replica's URL and the
    ///   primary's are one store, as their data is;
    /// - a cluster, through a cluster URL: `redis-cluster:<the masters' node ids, sorted>:<prefix>`.
    ///   A plain URL of one of its nodes is refused (`ERR_INVALID_ARG`): a connection to one
    ///   node reaches only that node's slots (every other key answers MOVED), so it is no store;
    ///   the message names the cluster URL to use;
    /// - `unverified:redis:<URL without password>:db<n>:<prefix>` when the server does not let
    ///   this user ask (`INFO` is in the `@dangerous` ACL category; proxies may not have it).
    ///   The store works as ever; only tools that must know (a migration that would overwrite)
    ///   refuse to guess.
    fn server_identity(&mut self, target: &RedisTarget) -> Result<String> {
        let prefix = self.options.key_prefix.clone();
        let db = self.connection.get_db();
        match self.ask_identity(db, &prefix) {
            Ok(identity) => Ok(identity),
            Err(StoreError::InvalidArg(why)) => Err(StoreError::InvalidArg(format!("{}: {why}", target.shown()))),
            Err(err) => {
                tracing::debug!(error = %err, "the Redis server does not tell what it is");
                Ok(format!("unverified:redis:{}:db{db}:{prefix}", target.shown()))
            }
        }
    }

    fn ask_identity(&mut self, db: i64, prefix: &str) -> Result<String> {
        if let Connection::Server(_) = self.connection {
            // All default sections, in one round trip on every Redis version.
            let info: String = self.query(&redis::cmd("INFO"))?;
            let field = |name: &str| info.lines().find_map(|line| line.strip_prefix(name)).map(str::trim).filter(|v| !v.is_empty());
            if field("cluster_enabled:") != Some("1") {
                let id = field("master_replid:")
                    .or_else(|| field("run_id:"))
                    .ok_or_else(|| StoreError::Io("Redis INFO has neither master_replid nor run_id".into()))?;
                return Ok(format!("redis:{id}:db{db}:{prefix}"));
            }
            return Err(StoreError::invalid(
                "this Redis server is a node of a Redis Cluster: open the cluster with redis+cluster://host:port[,host:port…] (a connection to one node reaches only its own slots)",
            ));
        }
        let nodes: String = self.query(redis::cmd("CLUSTER").arg("NODES"))?;
        let mut masters: Vec<&str> = nodes
            .lines()
            .filter(|line| line.split(' ').nth(2).is_some_and(|flags| flags.split(',').any(|f| f == "master")))
            .filter_map(|line| line.split(' ').next())
            .collect();
        if masters.is_empty() {
            return Err(StoreError::Io("CLUSTER NODES lists no master".into()));
        }
        masters.sort_unstable();
        Ok(format!("redis-cluster:{}:{prefix}", masters.join(",")))
    }

    fn keys(&self, session: &str) -> SessionKeys {
        let base = format!("{}:{{{}}}", self.options.key_prefix, escape_session(session));
        SessionKeys {
            creds: format!("{base}:creds"),
            types: format!("{base}:types"),
            updated: format!("{base}:updated"),
            lease: format!("{base}:lease"),
            hash_prefix: format!("{base}:keys:"),
        }
    }

    /// The key of the store's record `name` ([`Store::meta`]): `<prefix>:records:<name>`, with
    /// the name escaped as a session id is, so that it holds no `{`. Every session key holds
    /// one (`<prefix>:{…}`) and the session scans match `<prefix>:{*`, so no record is ever
    /// taken for a session's key, of this store or of one whose prefix extends this one's
    /// (`<prefix>:records`). Without a hash tag the whole key picks the slot: one key per
    /// record, single-slot on a cluster.
    fn record_key(&self, name: &str) -> String {
        format!("{}:records:{}", self.options.key_prefix, escape_session(name))
    }

    /// When the round trip about to be sent must have finished. The first one of an operation
    /// has until its issue time plus `commandTimeoutMs` (waiting in line counts); every later one
    /// (the next page of a listing), or one of an operation nobody announced (a caller using
    /// the store directly), has `commandTimeoutMs` from now.
    fn round_trip_deadline(&mut self) -> std::time::Instant {
        self.issued_deadline.take().unwrap_or_else(|| std::time::Instant::now() + self.options.command_timeout)
    }

    fn ttl_ms(&self) -> u64 {
        self.options.ttl.map_or(0, |ttl| ttl.as_millis() as u64)
    }

    /// Runs a command on the connection, bounded by the command timeout.
    fn query<T: redis::FromRedisValue>(&mut self, cmd: &Cmd) -> Result<T> {
        let deadline = self.round_trip_deadline();
        block_on(&self.runtime, deadline, cmd.query_async(&mut self.connection))
    }

    /// Invokes a session script: KEYS = creds, types, updated, lease; ARGV = ttl, hash prefix,
    /// the time, the fence's holder and epoch (`''` without), then `extra`.
    fn script<T: redis::FromRedisValue>(
        &mut self,
        pick: fn(&Scripts) -> &Script,
        session: &str,
        fence: Option<&Fence>,
        extra: Vec<Vec<u8>>,
    ) -> Result<T> {
        let keys = self.keys(session);
        let deadline = self.round_trip_deadline();
        let mut invocation = pick(&self.scripts).prepare_invoke();
        invocation.key(keys.creds).key(keys.types).key(keys.updated).key(keys.lease);
        invocation.arg(self.ttl_ms()).arg(keys.hash_prefix).arg(now_millis());
        match fence {
            Some(fence) => invocation.arg(fence.holder.as_str()).arg(fence.epoch),
            None => invocation.arg("").arg(""),
        };
        for arg in extra {
            invocation.arg(arg);
        }
        block_on(&self.runtime, deadline, invocation.invoke_async(&mut self.connection))
    }

    /// The `EVALSHA` that [`RedisStore::script`] sends, as a command for a pipeline.
    fn script_cmd(&self, script: &Script, session: &str, fence: Option<&Fence>, extra: Vec<Vec<u8>>) -> Cmd {
        let keys = self.keys(session);
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(script.get_hash()).arg(4).arg(keys.creds).arg(keys.types).arg(keys.updated).arg(keys.lease);
        cmd.arg(self.ttl_ms()).arg(keys.hash_prefix).arg(now_millis());
        match fence {
            Some(fence) => cmd.arg(fence.holder.as_str()).arg(fence.epoch),
            None => cmd.arg("").arg(""),
        };
        for arg in extra {
            cmd.arg(arg);
        }
        cmd
    }

    /// The write script of a grouped write, with its command, or `None` for an empty key
    /// batch (which writes nothing, and succeeds).
    fn write_cmd(&self, write: &Write<'_>) -> Option<(&'static str, Cmd)> {
        match *write {
            Write::Creds { session, creds, fence } => {
                Some(("set_creds", self.script_cmd(&self.scripts.set_creds, session, fence, vec![creds.to_vec()])))
            }
            Write::Keys { writes: [], .. } => None,
            Write::Keys { session, writes, fence } => {
                Some(("apply", self.script_cmd(&self.scripts.apply, session, fence, apply_args(writes))))
            }
        }
    }

    /// Sends the writes `which` of `group` (each with a command: no empty batch) as one
    /// pipeline, one round trip due at `deadline`, and stores each reply's outcome in `results`.
    /// Returns the writes to send again: those that found their script missing (`NOSCRIPT`: not
    /// run) with no later write of the pipeline run, so that sending them again keeps issue
    /// order.
    ///
    /// Issue order across scripts: Redis may know one write script and not the other (after a
    /// `SCRIPT FLUSH` or a restart, another client loaded one of them), and then the writes of
    /// the known one would run while the earlier writes of the other got `NOSCRIPT`. So a
    /// pipeline of both scripts, and every pipeline sent again, starts with a `SCRIPT LOAD` of
    /// each script it uses: Redis runs one connection's commands in order, so every `EVALSHA`
    /// behind them finds its script. A pipeline of one script needs none: a missing script
    /// fails its writes from the first one on, all of them.
    fn send_pipeline(
        &mut self,
        group: &[Write<'_>],
        which: &[usize],
        deadline: std::time::Instant,
        load: bool,
        results: &mut [Option<Result<()>>],
    ) -> Vec<usize> {
        let mut commands = Vec::with_capacity(which.len());
        let mut names = BTreeSet::new();
        for &i in which {
            if let Some((name, cmd)) = self.write_cmd(&group[i]) {
                commands.push((i, cmd));
                names.insert(name);
            }
        }
        let mut pipe = redis::pipe();
        let loads = if load || names.len() > 1 { names.len() } else { 0 };
        for name in names.iter().take(loads) {
            let code = if *name == "apply" { &self.scripts.apply_code } else { &self.scripts.set_creds_code };
            pipe.cmd("SCRIPT").arg("LOAD").arg(code.as_str());
        }
        for (_, cmd) in &commands {
            pipe.add_command(cmd.clone());
        }
        let expected = loads + commands.len();
        let replies: Result<Vec<redis::RedisResult<Value>>> =
            block_on(&self.runtime, deadline, pipe.ignore_errors().query_async(&mut self.connection));
        let replies = replies.and_then(|replies| {
            if replies.len() == expected {
                Ok(replies)
            } else {
                Err(StoreError::Io(format!("Redis answered {} of {expected} pipelined commands", replies.len())))
            }
        });
        let replies = match replies {
            // A failed SCRIPT LOAD is no write's outcome: the writes behind it say what happened.
            Ok(replies) => replies.into_iter().skip(loads),
            Err(err) => {
                // The outcome of every write is unknown: each gets the error.
                for (i, _) in &commands {
                    results[*i] = Some(Err(err.clone()));
                }
                return Vec::new();
            }
        };
        let no_script = |reply: &redis::RedisResult<Value>| matches!(reply, Err(err) if err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript));
        let replies: Vec<(usize, redis::RedisResult<Value>)> = commands.iter().map(|(i, _)| *i).zip(replies).collect();
        // Writes after the last one that ran did not run: they can go again, in order. A write
        // that did not run before one that ran cannot (it would overtake it): it fails.
        let last_ran = replies.iter().rposition(|(_, reply)| !no_script(reply));
        let mut again = Vec::new();
        for (at, (i, reply)) in replies.into_iter().enumerate() {
            let (session, fence) = match group[i] {
                Write::Creds { session, fence, .. } | Write::Keys { session, fence, .. } => (session, fence),
            };
            let outcome = if !no_script(&reply) {
                reply.map_err(map_error).and_then(|value| write_outcome(session, fence, value))
            } else if last_ran.is_none_or(|last| at > last) {
                again.push(i);
                continue;
            } else {
                Err(StoreError::Io(
                    "Redis lost its scripts while the write group ran (SCRIPT FLUSH?): this write did not run and a later one did, so it is not sent again".into(),
                ))
            };
            results[i] = Some(outcome);
        }
        again
    }

    /// Every id of the hash `hash` with its value's length, sorted, one page per round trip.
    fn scan_hash(&mut self, hash: &str) -> Result<BTreeMap<String, u64>> {
        let mut ids = BTreeMap::new();
        let mut cursor = String::from("0");
        loop {
            let deadline = self.round_trip_deadline();
            let mut invocation = self.scripts.list_page.prepare_invoke();
            invocation.key(hash).arg(&cursor).arg(LIST_PAGE_SIZE);
            let (next, page): (String, Vec<(Vec<u8>, u64)>) =
                block_on(&self.runtime, deadline, invocation.invoke_async(&mut self.connection))?;
            for (id, bytes) in page {
                ids.insert(stored_text(id, "key id")?, bytes);
            }
            if next == "0" {
                return Ok(ids);
            }
            cursor = next;
        }
    }

    /// The session's types, sorted, and the ids and lengths of each: types whose hash is gone
    /// (expired, say) are left out.
    fn scan_types(&mut self, session: &str, kinds: Vec<Vec<u8>>) -> Result<Vec<(String, BTreeMap<String, u64>)>> {
        let prefix = self.keys(session).hash_prefix;
        let kinds: BTreeSet<String> = kinds.into_iter().map(|kind| stored_text(kind, "key type")).collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(kinds.len());
        for kind in kinds {
            let ids = self.scan_hash(&format!("{prefix}{kind}"))?;
            if !ids.is_empty() {
                out.push((kind, ids));
            }
        }
        Ok(out)
    }

    /// The sessions that have data (creds or a types set): a session with only a lease hash
    /// has none.
    fn scan_sessions(&mut self) -> Result<BTreeSet<String>> {
        self.scan_session_keys("*", &[":creds", ":types"])
    }

    /// The session ids found by scanning every node for the keys `<prefix>:{<id>}<suffix>`,
    /// where `pattern` matches after the `{` and `suffix` is one of `suffixes`. One page per
    /// round trip, each with a deadline of its own.
    fn scan_session_keys(&mut self, pattern: &str, suffixes: &[&str]) -> Result<BTreeSet<String>> {
        let prefix = format!("{}:{{", self.options.key_prefix);
        let pattern = format!("{prefix}{pattern}");
        let nodes = match &self.connection {
            Connection::Server(_) => vec![None],
            Connection::Cluster(_) => self.cluster_masters()?.into_iter().map(Some).collect(),
        };
        let mut sessions = BTreeSet::new();
        for node in nodes {
            let mut cursor: u64 = 0;
            loop {
                let mut cmd = redis::cmd("SCAN");
                cmd.arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(1000);
                let deadline = self.round_trip_deadline();
                let (next, keys): (u64, Vec<Vec<u8>>) = match (&node, &mut self.connection) {
                    (Some((host, port)), Connection::Cluster(cluster)) => {
                        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host: host.clone(), port: *port });
                        let reply = block_on(&self.runtime, deadline, cluster.route_command(cmd, routing))?;
                        redis::from_redis_value(reply).map_err(unexpected_reply)?
                    }
                    (_, connection) => block_on(&self.runtime, deadline, cmd.query_async(connection))?,
                };
                for key in keys {
                    let key = stored_text(key, "key name")?;
                    // The escaped session id holds no '}', so the first one ends it.
                    let Some((session, rest)) = key.strip_prefix(&prefix).and_then(|k| k.split_once('}')) else { continue };
                    // Only the keys asked for (for `sessions`: those that mean "this session has data").
                    if suffixes.contains(&rest) {
                        sessions.insert(unescape_session(session));
                    }
                }
                cursor = next;
                if cursor == 0 {
                    break;
                }
            }
        }
        Ok(sessions)
    }

    /// (host, port) of every master of the cluster, from `CLUSTER SLOTS`.
    fn cluster_masters(&mut self) -> Result<BTreeSet<(String, u16)>> {
        let slots: Vec<Value> = self.query(redis::cmd("CLUSTER").arg("SLOTS"))?;
        let mut masters = BTreeSet::new();
        for range in slots {
            let Value::Array(parts) = range else { continue };
            if let Some(Value::Array(master)) = parts.get(2) {
                let host: String =
                    master.first().map(redis::from_redis_value_ref).transpose().map_err(unexpected_reply)?.unwrap_or_default();
                let port: u16 = master.get(1).map(redis::from_redis_value_ref).transpose().map_err(unexpected_reply)?.unwrap_or_default();
                masters.insert((host, port));
            }
        }
        Ok(masters)
    }
}

impl Store for RedisStore {
    fn operation_issued(&mut self, at: std::time::Instant) {
        self.issued_deadline = Some(at + self.options.command_timeout);
    }

    /// Each write of the group keeps its own deadline (see [`Store::write_group`]).
    fn group_issued(&mut self, at: &[std::time::Instant]) {
        self.group_deadlines = at.iter().map(|&at| at + self.options.command_timeout).collect();
    }

    fn get_creds(&mut self, session: &str) -> Result<Option<Vec<u8>>> {
        if self.options.ttl.is_some() {
            return self.script(|s| &s.get_creds, session, None, vec![]);
        }
        let key = self.keys(session).creds;
        self.query(redis::cmd("GET").arg(key))
    }

    fn set_creds(&mut self, session: &str, creds: &[u8], fence: Option<&Fence>) -> Result<()> {
        let reply = self.script(|s| &s.set_creds, session, fence, vec![creds.to_vec()])?;
        write_outcome(session, fence, reply)
    }

    fn get_keys(&mut self, session: &str, kind: &str, ids: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if self.options.ttl.is_some() {
            let mut extra = vec![kind.as_bytes().to_vec()];
            extra.extend(ids.iter().map(|id| id.as_bytes().to_vec()));
            return self.script(|s| &s.get_keys, session, None, extra);
        }
        let hash = format!("{}{kind}", self.keys(session).hash_prefix);
        self.query(redis::cmd("HMGET").arg(hash).arg(ids))
    }

    fn apply(&mut self, session: &str, writes: &[KeyWrite], fence: Option<&Fence>) -> Result<()> {
        if writes.is_empty() {
            return Ok(());
        }
        let reply = self.script(|s| &s.apply, session, fence, apply_args(writes))?;
        write_outcome(session, fence, reply)
    }

    fn clear_keys(&mut self, session: &str, fence: Option<&Fence>) -> Result<()> {
        let reply = self.script(|s| &s.clear, session, fence, vec![b"0".to_vec()])?;
        write_outcome(session, fence, reply)
    }

    /// Deletes the session's data; its lease hash stays (epochs never go back).
    fn delete_session(&mut self, session: &str, fence: Option<&Fence>) -> Result<()> {
        let reply = self.script(|s| &s.clear, session, fence, vec![b"1".to_vec()])?;
        write_outcome(session, fence, reply)
    }

    fn acquire_lease(&mut self, session: &str, request: &LeaseRequest) -> Result<LeaseInfo> {
        lease::check_lease_ms(request.lease_ms)?;
        if request.holder.is_empty() {
            return Err(StoreError::invalid("a lease's holder must not be empty"));
        }
        let claim = match request.claim {
            Claim::Refuse => "refuse",
            Claim::SameProcess => "process",
            Claim::Takeover => "takeover",
        };
        let extra = vec![
            request.holder.as_bytes().to_vec(),
            request.process.as_bytes().to_vec(),
            request.host.as_bytes().to_vec(),
            request.pid.to_string().into_bytes(),
            request.lease_ms.to_string().into_bytes(),
            claim.as_bytes().to_vec(),
        ];
        let reply: LeaseReply = self.script(|s| &s.acquire, session, None, extra)?;
        lease_outcome(session, None, reply)?.ok_or_else(|| StoreError::Io("Redis granted a lease it does not hold".into()))
    }

    fn renew_lease(&mut self, session: &str, fence: &Fence, lease_ms: u64) -> Result<LeaseInfo> {
        lease::check_lease_ms(lease_ms)?;
        let reply: LeaseReply = self.script(|s| &s.renew, session, Some(fence), vec![lease_ms.to_string().into_bytes()])?;
        lease_outcome(session, Some(fence), reply)?.ok_or_else(|| StoreError::Io("Redis renewed a lease it does not hold".into()))
    }

    /// The first lease by [`renew_lease`](Store::renew_lease), which loads the script if the
    /// server lacks it; the others in ONE pipeline of `renew.lua` calls (one round trip however
    /// many sessions), each with its own outcome. Should the pipeline fail short of the network
    /// (a cluster node without the script, say), each is renewed on its own; renewing twice only
    /// extends a lease twice.
    fn renew_leases(&mut self, leases: &[(String, Fence)], lease_ms: u64) -> Result<Vec<Result<LeaseInfo>>> {
        lease::check_lease_ms(lease_ms)?;
        let Some(((session, fence), rest)) = leases.split_first() else { return Ok(Vec::new()) };
        let mut outcomes = vec![self.renew_lease(session, fence, lease_ms)];
        if rest.is_empty() {
            return Ok(outcomes);
        }
        // As `script` invokes one (same KEYS and ARGV).
        let mut pipe = redis::pipe();
        for (session, fence) in rest {
            let keys = self.keys(session);
            let mut invocation = self.scripts.renew.prepare_invoke();
            invocation.key(keys.creds).key(keys.types).key(keys.updated).key(keys.lease);
            invocation.arg(self.ttl_ms()).arg(keys.hash_prefix).arg(now_millis());
            invocation.arg(fence.holder.as_str()).arg(fence.epoch).arg(lease_ms.to_string());
            pipe.invoke_script(&invocation);
        }
        let deadline = self.round_trip_deadline();
        match block_on(&self.runtime, deadline, pipe.query_async::<Vec<LeaseReply>>(&mut self.connection)) {
            Ok(replies) if replies.len() == rest.len() => {
                for ((session, fence), reply) in rest.iter().zip(replies) {
                    let renewed = lease_outcome(session, Some(fence), reply)
                        .and_then(|l| l.ok_or_else(|| StoreError::Io("Redis renewed a lease it does not hold".into())));
                    outcomes.push(renewed);
                }
            }
            Err(err @ StoreError::Unavailable(_)) => outcomes.extend(rest.iter().map(|_| Err(err.clone()))),
            _ => outcomes.extend(rest.iter().map(|(session, fence)| self.renew_lease(session, fence, lease_ms))),
        }
        Ok(outcomes)
    }

    /// A fence that no longer matches releases nothing, and is no error.
    fn release_lease(&mut self, session: &str, fence: &Fence) -> Result<()> {
        self.script::<i64>(|s| &s.release, session, Some(fence), vec![]).map(drop)
    }

    /// A fence that no longer matches forgets nothing, and is no error.
    fn forget_lease(&mut self, session: &str, fence: &Fence) -> Result<()> {
        self.script::<i64>(|s| &s.forget, session, Some(fence), vec![]).map(drop)
    }

    /// One round trip; live by the server's clock.
    fn lease(&mut self, session: &str) -> Result<Option<LeaseInfo>> {
        let reply: LeaseReply = self.script(|s| &s.lease, session, None, vec![])?;
        lease_outcome(session, None, reply)
    }

    /// Every lease hash under the prefix, sorted by session: a paged `SCAN` (one round trip
    /// per page, each with its own deadline), then one round trip per lease. A lease that
    /// vanishes meanwhile (expired with its session) is left out.
    fn leases(&mut self) -> Result<Vec<(String, LeaseInfo)>> {
        let sessions = self.scan_session_keys("*}:lease", &[":lease"])?;
        let mut out = Vec::with_capacity(sessions.len());
        for session in sessions {
            if let Some(info) = self.lease(&session)? {
                out.push((session, info));
            }
        }
        Ok(out)
    }

    /// One `GET`; a record has no TTL to refresh.
    fn meta(&mut self, name: &str) -> Result<Option<Vec<u8>>> {
        let key = self.record_key(name);
        self.query(redis::cmd("GET").arg(key))
    }

    /// One script (`scripts/swap_meta.lua`): the comparison and the change are atomic, and a
    /// record is never given the store's TTL (it is not a session's: an expired salt would
    /// make every sealed value unreadable).
    fn swap_meta(&mut self, name: &str, expected: Option<&[u8]>, value: Option<&[u8]>) -> Result<bool> {
        let key = self.record_key(name);
        let deadline = self.round_trip_deadline();
        let mut invocation = self.scripts.swap_meta.prepare_invoke();
        invocation.key(key);
        invocation.arg(if expected.is_some() { "1" } else { "0" }).arg(expected.unwrap_or_default());
        invocation.arg(if value.is_some() { "1" } else { "0" }).arg(value.unwrap_or_default());
        let swapped: i64 = block_on(&self.runtime, deadline, invocation.invoke_async(&mut self.connection))?;
        Ok(swapped == 1)
    }

    fn sessions(&mut self) -> Result<Vec<String>> {
        Ok(self.scan_sessions()?.into_iter().collect())
    }

    /// A type's hash is read in pages (see `scripts/list_page.lua`), each page within
    /// `commandTimeoutMs`: exact for a session that is not written meanwhile.
    fn list_keys(&mut self, session: &str) -> Result<Vec<KeyInfo>> {
        let kinds: Vec<Vec<u8>> = self.query(redis::cmd("SMEMBERS").arg(self.keys(session).types))?;
        let mut keys = Vec::new();
        for (kind, ids) in self.scan_types(session, kinds)? {
            keys.extend(ids.into_iter().map(|(id, bytes)| KeyInfo { kind: kind.clone(), id, bytes }));
        }
        Ok(keys)
    }

    /// Creds and time come from one script; each type's count and bytes from a paged listing
    /// as in [`list_keys`](Store::list_keys), so that both describe the same ids.
    fn stats(&mut self, session: &str) -> Result<SessionStats> {
        let (has_creds, creds_len, kinds, updated): (bool, u64, Vec<Vec<u8>>, Option<i64>) =
            self.script(|s| &s.stats, session, None, vec![])?;
        let kinds: Vec<KindStats> = self
            .scan_types(session, kinds)?
            .into_iter()
            .map(|(kind, ids)| KindStats { kind, count: ids.len() as u64, bytes: ids.values().sum() })
            .collect();
        let exists = has_creds || !kinds.is_empty();
        Ok(SessionStats { creds_bytes: has_creds.then_some(creds_len), kinds, updated_at_ms: updated.filter(|_| exists) })
    }

    fn backup(&mut self, _dest: &std::path::Path) -> Result<()> {
        Err(StoreError::Unsupported(
            "backup copies SQLite stores only; for Redis use its own persistence (BGSAVE and a copy of the RDB file, or AOF), or migrate the sessions to a SQLite file".into(),
        ))
    }

    fn check(&mut self) -> Result<Vec<String>> {
        self.query::<()>(&redis::cmd("PING"))?;
        Ok(Vec::new())
    }

    /// One pipeline for the group (see the module doc); on a cluster, one write at a time.
    /// Each write has its own deadline (see [`Store::group_issued`]): one whose deadline passed
    /// while it waited in line fails alone, unsent, as it would alone; the pipeline of the
    /// others is due when the oldest of them is.
    fn write_group(&mut self, group: &[Write<'_>]) -> Vec<Result<()>> {
        let deadlines: Vec<Option<std::time::Instant>> = match std::mem::take(&mut self.group_deadlines) {
            own if own.len() == group.len() => own.into_iter().map(Some).collect(),
            // Not announced write by write (a caller using the store directly): the group is
            // one operation, due when it was issued (if it was announced), its later round
            // trips each `commandTimeoutMs` from when they are sent.
            _ => {
                let first = self.issued_deadline.take();
                (0..group.len()).map(|i| if i == 0 { first } else { None }).collect()
            }
        };
        self.issued_deadline = None;
        if group.len() < 2 || matches!(self.connection, Connection::Cluster(_)) {
            let results = group
                .iter()
                .zip(deadlines)
                .map(|(write, deadline)| {
                    self.issued_deadline = deadline;
                    write.apply_to(self)
                })
                .collect();
            // An empty batch does not use its deadline: it must not be left for the next call.
            self.issued_deadline = None;
            return results;
        }
        let mut results: Vec<Option<Result<()>>> = vec![None; group.len()];
        let now = std::time::Instant::now();
        let deadlines: Vec<std::time::Instant> =
            deadlines.into_iter().map(|d| d.unwrap_or_else(|| now + self.options.command_timeout)).collect();
        let mut send = Vec::with_capacity(group.len());
        for (i, write) in group.iter().enumerate() {
            if matches!(write, Write::Keys { writes: [], .. }) {
                // Writes nothing and succeeds, as alone (`apply`), without a round trip.
                results[i] = Some(Ok(()));
            } else if deadlines[i] <= now {
                results[i] = Some(Err(StoreError::Unavailable(
                    "Redis did not answer within commandTimeoutMs (the call waited in line behind others)".into(),
                )));
            } else {
                send.push(i);
            }
        }
        // Nothing to send (only empty batches, or only writes already late): no round trip, and
        // no empty pipeline, which redis-rs refuses.
        if let Some(deadline) = send.iter().map(|&i| deadlines[i]).min() {
            let again = self.send_pipeline(group, &send, deadline, false, &mut results);
            if !again.is_empty() {
                // Those writes did not run, and none after them did: send them again behind the
                // loads of their scripts (Redis restarted or flushed them), a round trip with a
                // deadline of its own.
                let deadline = std::time::Instant::now() + self.options.command_timeout;
                let still = self.send_pipeline(group, &again, deadline, true, &mut results);
                for i in still {
                    results[i] = None;
                }
            }
        }
        results.into_iter().map(|r| r.unwrap_or_else(|| Err(StoreError::Io("Redis: script not found after loading it".into())))).collect()
    }

    fn identity(&self) -> String {
        self.identity.clone()
    }
}

/// The session id as written inside the key's `{…}` hash tag: `%`, `{` and `}` are
/// percent-encoded, so that the tag is exactly the session id (a `}` would end it early and
/// split a session across cluster slots) and a key names one session only.
fn escape_session(session: &str) -> std::borrow::Cow<'_, str> {
    if !session.contains(['%', '{', '}']) {
        return session.into();
    }
    session.replace('%', "%25").replace('{', "%7B").replace('}', "%7D").into()
}

fn unescape_session(escaped: &str) -> String {
    let mut out = String::with_capacity(escaped.len());
    let mut rest = escaped;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let (decoded, skip) = match rest.get(at..at + 3) {
            Some("%25") => ('%', 3),
            Some("%7B") => ('{', 3),
            Some("%7D") => ('}', 3),
            _ => ('%', 1),
        };
        out.push(decoded);
        rest = &rest[at + skip..];
    }
    out.push_str(rest);
    out
}

/// What the lease scripts return, and a write script that refuses to write (see `lease_reply`
/// in `scripts/common.lua`): status ('ok', 'none', 'locked', 'fenced'), holder, epoch (`""`
/// without a lease), host, pid, acquired, expires (server clock, ms), live (0/1).
type LeaseReply = (String, String, String, String, u32, i64, i64, i64);

/// A lease reply as the stored lease (`None` for 'none'), or the typed error it stands for:
/// `ERR_SESSION_LOCKED` with its owner, or `ERR_SESSION_FENCED` for `fence`.
fn lease_outcome(session: &str, fence: Option<&Fence>, reply: LeaseReply) -> Result<Option<LeaseInfo>> {
    let (status, holder, epoch, host, pid, acquired_at_ms, expires_at_ms, live) = reply;
    let owner = LeaseOwner { host, pid, acquired_at_ms, expires_at_ms };
    let epoch = match epoch.as_str() {
        "" => None,
        text => Some(
            text.parse::<u64>().map_err(|_| StoreError::corrupt(format!("session {session:?}: a stored lease epoch is not a number")))?,
        ),
    };
    match (status.as_str(), fence) {
        ("none", _) => Ok(None),
        ("ok", _) => {
            let epoch = epoch.ok_or_else(|| StoreError::Io("Redis returned a lease without an epoch".into()))?;
            Ok(Some(LeaseInfo { holder, epoch, owner, live: live != 0 }))
        }
        ("locked", _) => Err(StoreError::SessionLocked { session: session.to_owned(), owner }),
        ("fenced", Some(fence)) => Err(lease::fenced(session, fence, epoch.map(|e| (holder.as_str(), e, &owner)))),
        (other, _) => Err(StoreError::Io(format!("unexpected lease reply from Redis: {other:?}"))),
    }
}

/// A write script's reply: 1 when it wrote, else the lease reply that refused it (nothing
/// written).
fn write_outcome(session: &str, fence: Option<&Fence>, reply: Value) -> Result<()> {
    match reply {
        Value::Int(_) | Value::Okay => Ok(()),
        Value::Array(_) => {
            let reply: LeaseReply = redis::from_redis_value(reply).map_err(unexpected_reply)?;
            lease_outcome(session, fence, reply).map(drop)?;
            Err(StoreError::Io("Redis refused a write without saying why".into()))
        }
        other => Err(StoreError::Io(format!("unexpected reply from Redis to a write: {other:?}"))),
    }
}

/// The extra arguments of the apply script: (op 'S' or 'D', type, id, value) per write.
fn apply_args(writes: &[KeyWrite]) -> Vec<Vec<u8>> {
    let mut extra = Vec::with_capacity(writes.len() * 4);
    for write in writes {
        let (op, value) = match &write.value {
            Some(value) => (b"S".to_vec(), value.clone()),
            None => (b"D".to_vec(), Vec::new()),
        };
        extra.extend([op, write.kind.as_bytes().to_vec(), write.id.as_bytes().to_vec(), value]);
    }
    extra
}

/// rustls needs one process-wide crypto provider for `rediss://`; installing it twice is harmless.
fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Runs a Redis future on the store's runtime, failing with `Unavailable` at `deadline`.
fn block_on<T>(
    runtime: &tokio::runtime::Runtime,
    deadline: std::time::Instant,
    future: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T> {
    let Some(left) = deadline.checked_duration_since(std::time::Instant::now()).filter(|d| !d.is_zero()) else {
        return Err(StoreError::Unavailable("Redis did not answer within commandTimeoutMs (the call waited in line behind others)".into()));
    };
    runtime.block_on(async {
        match tokio::time::timeout(left, future).await {
            Ok(result) => result.map_err(map_error),
            Err(_) => Err(StoreError::Unavailable("Redis did not answer within commandTimeoutMs".into())),
        }
    })
}

/// A name read from Redis (a key type, id or key) as text: bytes that are not UTF-8 were not
/// written by this package, so they are damage (`ERR_STORE_CORRUPT`), never replaced.
fn stored_text(bytes: Vec<u8>, what: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| StoreError::corrupt(format!("a stored {what} is not valid UTF-8 ({e})")))
}

fn unexpected_reply(err: redis::ParsingError) -> StoreError {
    StoreError::Io(format!("unexpected reply from Redis: {err}"))
}

fn invalid_url(err: redis::RedisError) -> StoreError {
    StoreError::invalid(format!("invalid Redis URL: {err}"))
}

/// Connection trouble is `Unavailable` (retrying later can succeed); anything else Redis
/// refuses is `Io`.
fn map_error(err: redis::RedisError) -> StoreError {
    use redis::{ErrorKind, ServerErrorKind};
    if err.kind() == ErrorKind::Parse {
        // The reply is not RESP at all: another service listens on that port (an HTTP server
        // answers "HTTP/1.1 400 …", which would otherwise surface as three lines about bytes).
        return StoreError::Io(
            "the server answered, but not as a Redis server (its reply is not the Redis protocol): check the store URL's host and port"
                .into(),
        );
    }
    let transient = err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || matches!(
            err.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::Server(
                    ServerErrorKind::BusyLoading | ServerErrorKind::TryAgain | ServerErrorKind::ClusterDown | ServerErrorKind::MasterDown
                )
        );
    if transient {
        StoreError::Unavailable(err.to_string())
    } else {
        StoreError::Io(format!("Redis: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_escape_and_unescape_losslessly() {
        for id in ["plain", "a}b", "}x", "{br}", "%7B", "%", "100%", "%25{%}", "ü:é/x"] {
            let escaped = escape_session(id);
            assert!(!escaped.contains(['{', '}']), "{id}");
            assert_eq!(unescape_session(&escaped), id);
        }
        assert_eq!(escape_session("plain"), "plain");
    }

    #[test]
    fn options_out_of_range_are_invalid() {
        let base = RedisOptions::default();
        for bad in [
            RedisOptions { key_prefix: "a{b".into(), ..base.clone() },
            RedisOptions { command_timeout: Duration::ZERO, ..base.clone() },
            RedisOptions { ttl: Some(Duration::from_millis(10)), ..base.clone() },
            RedisOptions { ttl: Some(MAX_TTL + Duration::from_secs(1)), ..base.clone() },
            RedisOptions { connect_timeout: MAX_TIMEOUT + Duration::from_secs(1), ..base.clone() },
        ] {
            assert_eq!(bad.validate().unwrap_err().code(), "ERR_INVALID_ARG", "{bad:?}");
        }
        base.validate().unwrap();
    }
}
