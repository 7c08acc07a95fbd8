"""The Lua scripts behind the redis ledger: each change of what a crawl owes is one atomic step.

Several scrapy-redis workers share one ledger, so every step that reads and
then writes (is this page new? may this copy go out? which parked tickets
are due? whose heartbeat stopped?) runs as one script on the redis server,
where no other worker's step can come in between.

Times are the redis server's (``TIME``), never a worker's clock: workers on
different machines then agree on when a parked ticket is due and on how
long a ticket has gone untouched.

Every script gets the same ``KEYS``, in the order of :data:`KEY_NAMES`
(``P`` below is ``<spider>:wds:``):

===========  =====================================================================
``owed``     hash: ticket → its request as JSON (issued, not settled)
``touched``  sorted set: ticket → server time it was issued or last handed out
``settled``  set: tickets whose answer was turned into what it promised
``claims``   hash: ticket → id of the worker downloading it (in flight)
``room``     sorted set: ticket → server time it is due (parked)
``workers``  set: ids of the workers that hold or held claims (for the sweep)
===========  =====================================================================

Two more kinds of key are named from ``ARGV``: ``P pages:<job>`` (the canonical
URLs a job knows) and ``P worker:<id>`` (a worker's heartbeat, with a TTL).
Like scrapy-redis itself, the ledger is for a standalone redis server.
"""

from __future__ import annotations

#: The key names, in the order every script receives them as ``KEYS``.
KEY_NAMES = ("owed", "touched", "settled", "claims", "room", "workers")

# Head of every script: the server's time in seconds, the keys by name, and
# the two steps several scripts share.
_HEAD = """
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local owed, touched, settled, claims, room, workers =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local function settle(ticket)
  redis.call('SADD', settled, ticket)
  redis.call('HDEL', owed, ticket)
  redis.call('ZREM', touched, ticket)
  redis.call('HDEL', claims, ticket)
  redis.call('ZREM', room, ticket)
end
-- Appends a ticket and its request to `out`, stamped as handed out now.
local function hand_out(out, ticket, request)
  redis.call('ZADD', touched, tostring(now), ticket)
  out[#out + 1] = ticket
  out[#out + 1] = request
end
-- Claims of the workers in `gone` go back into the room, due now.
local function return_claims(gone)
  local moved = {}
  local held = redis.call('HGETALL', claims)
  for i = 1, #held, 2 do
    local ticket, worker = held[i], held[i + 1]
    if gone[worker] then
      redis.call('HDEL', claims, ticket)
      if redis.call('HEXISTS', owed, ticket) == 1 then
        redis.call('ZADD', room, tostring(now), ticket)
        moved[#moved + 1] = ticket
      end
    end
  end
  return moved
end
"""

# ARGV[1] = JSON {"prefix": P, "pages": [[job, url], ...],
#                 "issued": [[ticket, request_json, page], ...], "settled": [ticket, ...]}
# ``page`` is the 1-based index in "pages" of the page a follow-up belongs
# to (0: none; -1: a page not in the list, never issued).  One answer's
# effects as one write: a page two answers name at once is followed by
# exactly one of them.  Returns one flag per page (1 = first sight).
RECORD = (
    _HEAD
    + """
local change = cjson.decode(ARGV[1])
local first = {}
for i, page in ipairs(change['pages'] or {}) do
  first[i] = redis.call('SADD', change['prefix'] .. 'pages:' .. page[1], page[2])
end
for _, entry in ipairs(change['issued'] or {}) do
  local ticket, page = entry[1], tonumber(entry[3])
  if (page == 0 or first[page] == 1) and redis.call('SISMEMBER', settled, ticket) == 0 then
    if redis.call('HSETNX', owed, ticket, entry[2]) == 1 then
      redis.call('ZADD', touched, tostring(now), ticket)
    end
  end
end
for _, ticket in ipairs(change['settled'] or {}) do settle(ticket) end
return first
"""
)

# ARGV = ticket, worker id.  1: this copy may go out (now in flight, held by
# this worker; or a ticket the ledger never saw).  0: drop the copy: it is
# settled, in flight elsewhere, or parked in the room.
CLAIM = (
    _HEAD
    + """
local ticket, worker = ARGV[1], ARGV[2]
if redis.call('SISMEMBER', settled, ticket) == 1 then return 0 end
if redis.call('HEXISTS', owed, ticket) == 0 then return 1 end
if redis.call('HEXISTS', claims, ticket) == 1 then return 0 end
if redis.call('ZSCORE', room, ticket) then return 0 end
redis.call('HSET', claims, ticket, worker)
redis.call('SADD', workers, worker)
return 1
"""
)

# ARGV = ticket, worker id.  1: this worker still holds the ticket it claimed
# (or the ticket is untracked), so its answer may be handed on.  0: the
# worker was taken for dead meanwhile (stalled longer than the timeout) and
# the ticket passed on or was settled: its answer must be dropped.
HOLDS = (
    _HEAD
    + """
if redis.call('SISMEMBER', settled, ARGV[1]) == 1 then return 0 end
if redis.call('HEXISTS', owed, ARGV[1]) == 0 then return 1 end
if redis.call('HGET', claims, ARGV[1]) == ARGV[2] then return 1 end
return 0
"""
)

# ARGV = ticket, request_json, seconds to wait, worker id.  The ticket waits
# in the shared room; its stored request becomes the copy to send (poll
# counters).  Only the worker holding the claim parks it: one taken for dead
# while stalled must not pull the ticket from the worker that took it over.
PARK = (
    _HEAD
    + """
if redis.call('HGET', claims, ARGV[1]) ~= ARGV[4] then return 0 end
redis.call('HSET', owed, ARGV[1], ARGV[2])
redis.call('HDEL', claims, ARGV[1])
redis.call('ZADD', room, tostring(now + math.max(0, tonumber(ARGV[3]))), ARGV[1])
return 1
"""
)

# ARGV = ticket.  A worker's own timer says a ticket it parked is due.
# 1: send it (taken out of the room, or never tracked).  0: drop it
# (settled, or another worker took it out of the room first).
UNPARK = (
    _HEAD
    + """
local ticket = ARGV[1]
if redis.call('ZREM', room, ticket) == 1 then
  redis.call('ZADD', touched, tostring(now), ticket)
  return 1
end
if redis.call('HEXISTS', owed, ticket) == 1 then return 0 end
return 1 - redis.call('SISMEMBER', settled, ticket)
"""
)

# ARGV = limit.  Takes the parked tickets whose time has come (whoever parked
# them), soonest first: the worker that runs this sends them, no other.
# Returns [ticket, request_json, ...].
TAKE_DUE = (
    _HEAD
    + """
local due = redis.call('ZRANGEBYSCORE', room, '-inf', tostring(now), 'LIMIT', 0, tonumber(ARGV[1]))
local out = {}
for _, ticket in ipairs(due) do
  redis.call('ZREM', room, ticket)
  local request = redis.call('HGET', owed, ticket)
  if request then hand_out(out, ticket, request) end
end
return out
"""
)

# ARGV = P.  Every claim held by a worker whose heartbeat key has expired
# goes back into the room, due now: what a dead worker was downloading (and
# the answers it had not yet turned into follow-ups) is taken by a live one.
# Returns [the dead workers' ids, the tickets moved].
SWEEP = (
    _HEAD
    + """
local gone, names = {}, {}
for _, worker in ipairs(redis.call('SMEMBERS', workers)) do
  if redis.call('EXISTS', ARGV[1] .. 'worker:' .. worker) == 0 then
    gone[worker] = true
    names[#names + 1] = worker
    redis.call('SREM', workers, worker)
  end
end
if #names == 0 then return {{}, {}} end
return {names, return_claims(gone)}
"""
)

# ARGV = worker id.  A closing worker lets go of every claim it holds: they
# go back into the room, due now, for the others (or the next run).
# Returns the tickets moved.
RELEASE = (
    _HEAD
    + """
redis.call('SREM', workers, ARGV[1])
return return_claims({[ARGV[1]] = true})
"""
)

# ARGV = grace seconds, limit, worker id.  Owed tickets nothing carries: not
# claimed, not parked, and untouched for longer than the grace (a ticket a
# live worker issued or took a moment ago is on its way through a queue).
# The worker asks when its engine is idle, so it carries nothing: its own
# claims are stale and count as orphans at once.  Each ticket is stamped as
# it is returned, so two idle workers never both send it.
# Returns [ticket, request_json, ...].
ORPHANS = (
    _HEAD
    + """
local grace, limit, me = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local held = redis.call('HGETALL', claims)
for i = 1, #held, 2 do
  if held[i + 1] == me then
    redis.call('HDEL', claims, held[i])
    redis.call('ZADD', touched, '0', held[i])
  end
end
local out = {}
local old = redis.call('ZRANGEBYSCORE', touched, '-inf', tostring(now - grace))
for _, ticket in ipairs(old) do
  if #out >= 2 * limit then break end
  local request = redis.call('HGET', owed, ticket)
  if not request then
    redis.call('ZREM', touched, ticket)
  elseif redis.call('HEXISTS', claims, ticket) == 0 and not redis.call('ZSCORE', room, ticket) then
    hand_out(out, ticket, request)
  end
end
return out
"""
)
