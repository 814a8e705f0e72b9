"""RuleCache: the DNC cache's rule entries (app/dnc/rules.py), a part of DncCache.

Rule entries (prefix rules, and exact entries that are scoped, limited to one channel or
expiring) live in each generation's rules hash, `<p>dnc:{ws}:<gen>:rules`, as
`match key -> descriptor;descriptor...`. They follow the numbers' protocol: a write marks
its match key in the same marks hash before the record changes, adds are unconditional
(an extra descriptor errs towards "listed"), removals apply only while the writer's own
mark is still there, a build in progress journals removals so its load cannot bring a
removed rule back, and the check script (cache_scripts.py) reads them under the same trust
rules (live generation, run_id stamp, marks).
"""

from __future__ import annotations

import time

import redis

from app.dnc.encoding import Layout, LayoutChanged, new_mark

# The seed's rule identity (exact, workspace-wide, all channels): app/dnc/rules.py.
DEFAULT_IDENTITY = "e||all"

# A rule entry's descriptor in every generation present (app/dnc/rules.py).
# KEYS: meta, guard hash, rule lengths, rule marks. ARGV: op (add, remove or set), mark,
# match key, identity, descriptor (add), or the field's whole value (set; "" drops it),
# bucket key base, keep ("1": leave the guard for the intset step that follows), now,
# guard field.
# The guard is per rule: the marks hash under the number for the seed's identity (it
# shares the intsets' guard), else the rule marks hash under `match key|identity`, so
# writers of other rules filed under the same key (another campaign, another channel)
# never block each other's removals. Every writer also marks the whole field in the rule
# marks hash, which is the guard of `set`: a set never overwrites a concurrent change.
#   add:    unconditional in every generation (an extra descriptor errs towards
#           "listed"); the guard is cleared, or re-marked when another writer's is there.
#   remove: only while the guard is still `mark`, like a number's removal.
#   set:    (the reconciler) the field as the record has it, only while the mark is ours.
# A build in progress journals removals, so its load cannot bring a rule back.
RULE_WRITE = """
local meta = redis.call('HMGET', KEYS[1], 'gen', 'building')
local op, mark, field, ident = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local current = redis.call('HGET', KEYS[2], ARGV[9])
redis.call('SADD', KEYS[3], #field)
local function identity(d) return string.match(d, '^(.*)|%d+$') end
if op == 'add' or current == mark then
  for g = 1, 2 do
    if meta[g] then
      local key = ARGV[6] .. meta[g] .. ':rules'
      local journal = ARGV[6] .. meta[g] .. ':removed'
      local old = redis.call('HGET', key, field) or ''
      local value = ARGV[5]
      local dropped = {}
      if op == 'set' then
        local now = {}
        for d in string.gmatch(value, '[^;]+') do now[identity(d)] = true end
        for d in string.gmatch(old, '[^;]+') do
          if not now[identity(d)] then dropped[#dropped + 1] = identity(d) end
        end
      else
        local kept = {}
        for d in string.gmatch(old, '[^;]+') do
          if identity(d) ~= ident then kept[#kept + 1] = d end
        end
        if op == 'add' then kept[#kept + 1] = value else dropped[1] = ident end
        table.sort(kept)
        value = table.concat(kept, ';')
      end
      if value == '' then redis.call('HDEL', key, field)
      else redis.call('HSET', key, field, value) end
      if g == 2 then
        if op == 'add' then redis.call('SREM', journal, 'r' .. field .. '|' .. ident) end
        for _, d in ipairs(dropped) do redis.call('SADD', journal, 'r' .. field .. '|' .. d) end
      end
    end
  end
end
if ARGV[7] ~= '1' then
  if current == mark then
    redis.call('HDEL', KEYS[2], ARGV[9])
  elseif current and op == 'add' then
    redis.call('HSET', KEYS[2], ARGV[9], mark .. '!' .. ARGV[8])
  end
end
if redis.call('HGET', KEYS[4], field) == mark then redis.call('HDEL', KEYS[4], field) end
return 1
"""

# A build's rule entries. KEYS: meta, rule lengths. ARGV: building gen, bucket key base,
# then field, value pairs. Each descriptor joins the field unless a writer changed that
# rule since the build read the record (a removal is journalled; an add is already there).
LOAD_RULES = """
if redis.call('HGET', KEYS[1], 'building') ~= ARGV[1] then return -1 end
local key = ARGV[2] .. ARGV[1] .. ':rules'
local journal = ARGV[2] .. ARGV[1] .. ':removed'
local loaded = 0
for i = 3, #ARGV, 2 do
  local field = ARGV[i]
  redis.call('SADD', KEYS[2], #field)
  local have, kept = {}, {}
  for d in string.gmatch(redis.call('HGET', key, field) or '', '[^;]+') do
    have[string.match(d, '^(.*)|%d+$')] = true
    kept[#kept + 1] = d
  end
  for d in string.gmatch(ARGV[i + 1], '[^;]+') do
    local ident = string.match(d, '^(.*)|%d+$')
    if not have[ident] and redis.call('SISMEMBER', journal, 'r' .. field .. '|' .. ident) == 0 then
      kept[#kept + 1] = d
      loaded = loaded + 1
    end
  end
  table.sort(kept)
  if #kept > 0 then redis.call('HSET', key, field, table.concat(kept, ';')) end
end
return loaded
"""


# KEYS: version. ARGV: the history's count of changes.
SEED_VERSION = """
if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
"""


class RuleCache:
    """DncCache's rule entries: keys, marks, writes, builds and the list's version.
    Mixed into DncCache, whose `client`, `_base` and `state` it uses."""

    client: redis.Redis

    def register_rule_scripts(self, client: redis.Redis) -> None:
        self._rule_write = client.register_script(RULE_WRITE)
        self._load_rules = client.register_script(LOAD_RULES)
        self._seed_version = client.register_script(SEED_VERSION)

    def rules_key(self, workspace_id: str, gen: str) -> str:
        return f"{self._base(workspace_id)}:{gen}:rules"

    def rule_lengths_key(self, workspace_id: str) -> str:
        """The match-key lengths rule entries use (only grows; a superset is harmless)."""
        return f"{self._base(workspace_id)}:rlens"

    def rule_marks_key(self, workspace_id: str) -> str:
        """Marks of rule writes: `key|identity` (a rule's guard) and `key` (the field's)."""
        return f"{self._base(workspace_id)}:rmarks"

    def version_key(self, workspace_id: str) -> str:
        return f"{self._base(workspace_id)}:version"

    def rules(self, workspace_id: str) -> dict[str, str] | None:
        """The live generation's rule entries, {match key: descriptors}; None when none
        is live."""
        state = self.state(workspace_id)
        if state.live is None:
            return None
        raw = self.client.hgetall(self.rules_key(workspace_id, state.live.gen))
        return {k.decode(): v.decode() for k, v in raw.items()}

    def version(self, workspace_id: str) -> int | None:
        value = self.client.get(self.version_key(workspace_id))
        return None if value is None else int(value)

    def mark_rule(self, workspace_id: str, match_key: str, identity: str | None) -> str:
        """Announce a write of a rule entry filed under `match_key` (its digits), or with
        `identity` None a reconciler's `set` of the whole field (see RULE_WRITE above).
        The seed's identity is guarded by the numbers' marks hash (checks see it)."""
        mark = new_mark()
        pipe = self.client.pipeline(transaction=True)
        pipe.sadd(self.rule_lengths_key(workspace_id), len(match_key))
        pipe.hset(self.rule_marks_key(workspace_id), match_key, mark)
        if identity == DEFAULT_IDENTITY:
            pipe.hset(self.marks_key(workspace_id), match_key, mark)
        elif identity is not None:
            pipe.hset(self.rule_marks_key(workspace_id), f"{match_key}|{identity}", mark)
        pipe.execute()
        return mark

    def finish_rule(
        self,
        op: str,
        workspace_id: str,
        match_key: str,
        identity: str,
        value: str,
        mark: str,
        *,
        keep_mark: bool = False,
    ) -> None:
        """After the record changed: `add` the descriptor `value`, `remove` the identity
        (while its guard is ours), or `set` the field to `value` (the reconciler)."""
        if identity == DEFAULT_IDENTITY:
            guard_key, guard = self.marks_key(workspace_id), match_key
        elif op == "set":
            guard_key, guard = self.rule_marks_key(workspace_id), match_key
        else:
            guard_key, guard = self.rule_marks_key(workspace_id), f"{match_key}|{identity}"
        self._rule_write(
            keys=[
                self.meta_key(workspace_id),
                guard_key,
                self.rule_lengths_key(workspace_id),
                self.rule_marks_key(workspace_id),
            ],
            args=[
                op,
                mark,
                match_key,
                identity,
                value,
                f"{self._base(workspace_id)}:",
                "1" if keep_mark else "0",
                int(time.time() * 1000),
                guard,
            ],
        )

    def rule_marks(self, workspace_id: str) -> dict[str, str]:
        """Pending rule marks: {`key` or `key|identity`: mark}."""
        raw = self.client.hgetall(self.rule_marks_key(workspace_id))
        return {k.decode(): v.decode() for k, v in raw.items()}

    def clear_rule_mark(self, workspace_id: str, field: str, mark: str) -> None:
        self._clear_if(keys=[self.rule_marks_key(workspace_id)], args=[field, mark])

    def bump_version(self, workspace_id: str, changes: int) -> None:
        """Count acknowledged changes (the list's version) once their history is written."""
        if changes:
            self.client.incrby(self.version_key(workspace_id), changes)

    def seed_version(self, workspace_id: str, changes: int) -> None:
        """Raise the version to the history's count (after Redis lost it); never lower it."""
        self._seed_version(keys=[self.version_key(workspace_id)], args=[changes])

    def load_rules(self, workspace_id: str, layout: Layout, fields: dict[str, str]) -> int:
        """Add rule entries read from the record to the generation being built."""
        args: list[str] = [layout.gen, f"{self._base(workspace_id)}:"]
        for field, value in fields.items():
            args += [field, value]
        keys = [self.meta_key(workspace_id), self.rule_lengths_key(workspace_id)]
        loaded = self._load_rules(keys=keys, args=args)
        if loaded == -1:
            raise LayoutChanged(workspace_id)
        return loaded
