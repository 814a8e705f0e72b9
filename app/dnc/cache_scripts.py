"""The Lua scripts of DncCache (app/dnc/cache.py): each one step of its protocol.

Contract. Every script runs on one workspace's keys, which share one hash tag and hence
one cluster slot; each is atomic, so a check never sees half a write and a build goes
live in one step. Their KEYS and ARGV are stated above each one; DncCache registers
them and is their only caller. The encoding, the marks, the trust rules and the stamps
they implement are stated once, in app/dnc/cache.py.

Why a module of their own: the scripts are Redis-side code, read and reviewed as one
protocol against the rules in cache.py, and they are half its length; the class that
prepares their keys and arguments reads better without them between its lines.
"""

from app.redis_lua import READ_RUN_ID

# Bucket keys are derived inside the script from the live layout, so a check is one
# round trip carrying only the numbers. They share the meta key's hash tag, hence its
# cluster slot, which is what lets a script touch keys it did not declare.
# KEYS: meta, marks, bulk, rule lengths, version. ARGV: bucket key base, campaign,
# channel, then the `n`s in one argument, separated by spaces.
# Reply: {0} when the cache may not be trusted, else {1, now ms, version, number of rule
# lengths, flags, stamp} with flags one digit per number, in order:
# 1 = listed, 0 = not listed, 2 = not listed in the cache but a write is in flight:
# ask the record; the stamp is "<run_id>:<gen>:<epoch>" (see Stamps in app/dnc/cache.py).
# One argument and one string each way: packing a thousand arguments and parsing a
# thousand replies cost the client more than the script's own work (docs/performance.md).
# Rule entries (app/dnc/rules.py) are looked up only when any exist:
# one HMGET per number over its prefixes of the lengths present, and the expiry is
# compared with this server's clock, so every process agrees on when an entry ends.
CHECK = (
    """
local m = redis.call('HMGET', KEYS[1], 'gen', 'bits', 'runid', 'epoch')
if not m[1] then return {0} end
"""
    + READ_RUN_ID
    + """if m[3] ~= runid then return {0} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local pending = redis.call('HLEN', KEYS[3]) > 0
-- Per-number marks are few and short-lived: look them up only when there are any.
local marked = redis.call('HLEN', KEYS[2]) > 0
local lens = redis.call('SMEMBERS', KEYS[4])
local base = ARGV[1] .. m[1] .. ':'
local rules = base .. 'rules'
local campaign, channel = ARGV[2], ARGV[3]
local size = 2 ^ tonumber(m[2])
local out = {}
for s in string.gmatch(ARGV[4], '%d+') do
  local n = tonumber(s)
  local bucket = n % size
  local member = string.format('%.0f', (n - bucket) / size)
  local flag = redis.call('SISMEMBER', base .. string.format('%x', bucket), member)
  local fields = {}
  if flag == 0 and #lens > 0 then
    for _, l in ipairs(lens) do
      if tonumber(l) <= #s then fields[#fields + 1] = string.sub(s, 1, tonumber(l)) end
    end
  end
  if #fields > 0 then
    local values = redis.call('HMGET', rules, unpack(fields))
    for j = 1, #fields do
      local v = values[j]
      if v and flag == 0 then
        for d in string.gmatch(v, '[^;]+') do
          local kind, scope, chan, exp = string.match(d, '^(%a)|([^|]*)|([^|]*)|(%d+)$')
          if (kind == 'p' or #fields[j] == #s) and (scope == '' or scope == campaign)
              and (chan == 'all' or chan == channel)
              and (exp == '0' or tonumber(exp) > now) then
            flag = 1
            break
          end
        end
      end
    end
    if flag == 0 and marked then
      local ms = redis.call('HMGET', KEYS[2], unpack(fields))
      for j = 1, #fields do if ms[j] then flag = 2 end end
    end
  end
  if flag == 0 and (pending or (marked and redis.call('HEXISTS', KEYS[2], s) == 1)) then
    flag = 2
  end
  out[#out + 1] = flag
end
return {1, string.format('%.0f', now), redis.call('GET', KEYS[5]) or '0', #lens,
  table.concat(out), runid .. ':' .. m[1] .. ':' .. (m[4] or '0')}
"""
)

# KEYS: the workspace's meta key. The script reads no key, but declaring it routes the
# call to the node that holds the workspace's slot on a Redis Cluster: the run_id that
# matters is that node's (the check script compares the same one).
RUN_ID = READ_RUN_ID + "return runid"

# KEYS: meta, removed-journal, marks, bulk, live bucket keys (ARGV[4] of them), building
# bucket keys. ARGV: op, live gen, building gen, live key count, mark, now, one member
# per bucket key, then the `n`s.
#   add:    SADD everywhere; clear N's mark if it is `mark`, re-mark N if another
#           writer's mark is there; drop `mark` from the bulk marks.
#   remove: only for the `n`s whose mark is still `mark`: SREM everywhere, clear it.
#   both:   move the workspace's epoch (see Stamps).
# Reply: the change of the live member count, or -1 when the layout moved.
WRITE = """
local meta = redis.call('HMGET', KEYS[1], 'gen', 'building')
if (meta[1] or '') ~= ARGV[2] or (meta[2] or '') ~= ARGV[3] then return -1 end
local add = ARGV[1] == 'add'
local mark = ARGV[5]
local nlive = tonumber(ARGV[4])
local nkeys = #KEYS - 4
local nnum = #ARGV - 6 - nkeys
local ngen = 0
if nnum > 0 then ngen = nkeys / nnum end
local live, built = 0, 0
for j = 1, nnum do
  local n = ARGV[6 + nkeys + j]
  local current = redis.call('HGET', KEYS[3], n)
  local apply = add or current == mark
  if apply then
    for g = 0, ngen - 1 do
      local i = g * nnum + j
      local changed
      if add then changed = redis.call('SADD', KEYS[i + 4], ARGV[i + 6])
      else changed = -redis.call('SREM', KEYS[i + 4], ARGV[i + 6]) end
      if i <= nlive then live = live + changed else built = built + changed end
    end
    if ARGV[3] ~= '' then
      if add then redis.call('SREM', KEYS[2], n) else redis.call('SADD', KEYS[2], n) end
    end
  end
  if current == mark then
    redis.call('HDEL', KEYS[3], n)
  elseif current and add then
    redis.call('HSET', KEYS[3], n, mark .. '!' .. ARGV[6])
  end
end
if add then redis.call('HDEL', KEYS[4], mark) end
redis.call('HINCRBY', KEYS[1], 'epoch', 1)
if ARGV[3] ~= '' then redis.call('HINCRBY', KEYS[1], 'bcount', built) end
if ARGV[2] ~= '' then redis.call('HINCRBY', KEYS[1], 'count', live) end
return live
"""

# KEYS: marks or bulk. ARGV: mark, then the `n`s (none for a bulk mark).
MARK = """
if #ARGV == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[1])
else
  for i = 2, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], ARGV[1]) end
end
return 1
"""

# KEYS: meta, removed-journal, bucket keys. ARGV: building gen, members, then `n`s.
LOAD = """
if redis.call('HGET', KEYS[1], 'building') ~= ARGV[1] then return -1 end
local nkeys = #KEYS - 2
local added = 0
for i = 1, nkeys do
  if redis.call('SISMEMBER', KEYS[2], ARGV[nkeys + 1 + i]) == 0 then
    added = added + redis.call('SADD', KEYS[i + 2], ARGV[i + 1])
  end
end
redis.call('HINCRBY', KEYS[1], 'bcount', added)
return added
"""

# A build is stamped with the server's run_id when it begins; it may go live only on the
# same server run, since a restart may have lost writes the build was counting on.
BEGIN = (
    READ_RUN_ID
    + """
redis.call('HSET', KEYS[1], 'building', ARGV[1], 'bbits', ARGV[2], 'bcount', 0, 'brunid', runid)
redis.call('HDEL', KEYS[1], 'stale', 'sbits')
return runid
"""
)

FLIP = (
    """
local m = redis.call('HMGET', KEYS[1], 'building', 'bbits', 'bcount', 'gen', 'bits', 'brunid')
if m[1] ~= ARGV[1] then return -1 end
"""
    + READ_RUN_ID
    + """if m[6] ~= runid then return -1 end
redis.call('HSET', KEYS[1], 'gen', m[1], 'bits', m[2], 'count', m[3] or '0', 'runid', runid)
redis.call('HDEL', KEYS[1], 'building', 'bbits', 'bcount', 'brunid')
return {m[4] or '', m[5] or ''}
"""
)

# KEYS: marks or bulk. ARGV: field, expected value. Clears a mark nobody replaced.
CLEAR_IF = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
return redis.call('HDEL', KEYS[1], ARGV[1])
"""

# KEYS: bulk, meta. ARGV: mark. Clears a bulk write's mark nobody replaced and moves the
# epoch (see Stamps in app/dnc/cache.py): a bulk write that died before its cache step
# may have changed entries of numbers the cache already held, which no settle step touches.
CLEAR_BULK = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HINCRBY', KEYS[2], 'epoch', 1) end
return redis.call('HDEL', KEYS[1], ARGV[1])
"""
