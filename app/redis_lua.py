"""Lua that more than one Redis script needs, written once.

READ_RUN_ID sets `runid` to the run_id of the Redis server running the script. A server
gets a new run_id whenever it starts (a restart, a failover to a replica, a restore from
an older file), so state stamped with the run_id it was written under tells whether it
survived: the DNC cache trusts a generation only on the run that built it
(app/dnc/cache_scripts.py) and the change sequence recovers its counter when its stamp
names another run (app/changes/sequence.py). On a Redis Cluster it is the run_id of the
node holding the script's keys. A script begins a line with it and reads `runid` after.
"""

READ_RUN_ID = "local runid = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')\n"
