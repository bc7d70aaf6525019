//! Installs rebuilt figures: built under temporary keys, then renamed over the
//! live ones in one script, so a reader sees the old day or the new one.
use std::sync::LazyLock;

use redis::{aio::ConnectionManager, Script};

use super::{
    figures::Expected,
    store::{self, EventArgs, GUARD_LUA},
};

/// ARGV: prefix, token, full ("1"/"0"), then day names. Renames each temporary
/// day hash and day board over the live key (or deletes the live key when the
/// day has nothing), and in full mode the all-time board too, and deletes the
/// live days the database no longer has.
static SWAP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local p, token, full = ARGV[1], ARGV[2], ARGV[3] == '1'
local tmp = p .. ':kpi:tmp:' .. token
local function install(from, to)
  if redis.call('EXISTS', from) == 1 then redis.call('RENAME', from, to) else redis.call('DEL', to) end
end
local wanted = {}
for i = 4, #ARGV do
  local day = ARGV[i]
  wanted[day] = true
  install(tmp .. ':day:' .. day, p .. ':kpi:day:' .. day)
  install(tmp .. ':lb:day:' .. day, p .. ':kpi:lb:day:' .. day)
end
if full then
  install(tmp .. ':lb:all', p .. ':kpi:lb:all')
  for _, pattern in ipairs({':kpi:day:', ':kpi:lb:day:'}) do
    local cursor = '0'
    repeat
      local page = redis.call('SCAN', cursor, 'MATCH', p .. pattern .. '*', 'COUNT', 1000)
      cursor = page[1]
      for _, key in ipairs(page[2]) do
        local day = string.sub(key, string.len(p .. pattern) + 1)
        if not wanted[day] then redis.call('DEL', key) end
      end
    until cursor == '0'
  end
end
return 1
",
    )
});

/// Marks events as applied in Redis; in day mode also adds what they bring
/// to the all-time board (which a day rebuild does not recompute).
/// Guards are recorded as by `store`'s apply script (`GUARD_LUA`).
static ADOPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{GUARD_LUA}
local p, bucket, ttl, add_all_time = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1'
for i = 5, #ARGV, 4 do
  local id, kind, cents, customer = ARGV[i], ARGV[i+1], tonumber(ARGV[i+2]), ARGV[i+3]
  if first_time(p, bucket, ttl, id) and add_all_time
    and (kind == 'order_paid' or kind == 'refund_processed') then
    redis.call('ZINCRBY', p .. ':kpi:lb:all', cents, customer)
  end
end
return 1
"
    ))
});

pub async fn swap_in(
    redis: &ConnectionManager,
    prefix: &str,
    day: Option<&str>,
    expected: &Expected,
    unapplied: &[EventArgs],
) -> anyhow::Result<()> {
    let mut conn = redis.clone();
    let token = uuid::Uuid::new_v4().simple().to_string();
    let tmp = format!("{prefix}:kpi:tmp:{token}");
    let days: Vec<String> = match day {
        Some(day) => vec![day.to_string()],
        None => expected.days.keys().cloned().collect(),
    };
    let mut pipe = redis::pipe();
    pipe.cmd("PING").ignore();
    // Temporary keys expire by themselves if this process dies before the swap.
    let staged = |pipe: &mut redis::Pipeline, key: String| {
        pipe.expire(key, 600).ignore();
    };
    for day in &days {
        if let Some(figures) = expected.days.get(day).filter(|f| !f.is_empty()) {
            let key = format!("{tmp}:day:{day}");
            pipe.hset_multiple(&key, &figures.fields()).ignore();
            staged(&mut pipe, key);
        }
        if let Some(board) = expected.day_boards.get(day).filter(|b| !b.is_empty()) {
            let key = format!("{tmp}:lb:day:{day}");
            let members: Vec<(i64, &String)> = board.iter().map(|(c, cents)| (*cents, c)).collect();
            pipe.zadd_multiple(&key, &members).ignore();
            staged(&mut pipe, key);
        }
    }
    if day.is_none() && !expected.all_time.is_empty() {
        let key = format!("{tmp}:lb:all");
        let members: Vec<(i64, &String)> = expected
            .all_time
            .iter()
            .map(|(c, cents)| (*cents, c))
            .collect();
        pipe.zadd_multiple(&key, &members).ignore();
        staged(&mut pipe, key);
    }
    let () = pipe.query_async(&mut conn).await?;

    for slice in unapplied.chunks(1_000) {
        let mut call = ADOPT.prepare_invoke();
        call.arg(prefix)
            .arg(store::GUARD_BUCKET)
            .arg(store::GUARD_TTL_SECS)
            .arg(if day.is_some() { "1" } else { "0" });
        for e in slice {
            call.arg(e.id)
                .arg(&e.kind)
                .arg(e.revenue_delta_cents)
                .arg(&e.customer);
        }
        let _: i64 = call.invoke_async(&mut conn).await?;
    }

    let mut call = SWAP.prepare_invoke();
    call.arg(prefix)
        .arg(&token)
        .arg(if day.is_none() { "1" } else { "0" });
    for day in &days {
        call.arg(day);
    }
    let _: i64 = call.invoke_async(&mut conn).await?;
    Ok(())
}

/// Days that have a figures hash in Redis.
pub async fn days_in_redis(redis: &ConnectionManager, prefix: &str) -> anyhow::Result<Vec<String>> {
    let mut conn = redis.clone();
    let head = format!("{prefix}:kpi:day:");
    let mut cursor = 0u64;
    let mut days = Vec::new();
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{head}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await?;
        days.extend(
            keys.iter()
                .filter_map(|k| k.strip_prefix(&head).map(str::to_string)),
        );
        if next == 0 {
            return Ok(days);
        }
        cursor = next;
    }
}
