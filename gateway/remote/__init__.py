"""Remote configuration (`cmd/config-apply`): versions kept in data_dir, applied as a trial, committed or rolled back.

- ``store.py``: the versions and the state file under ``{data_dir}/config/`` (atomic writes);
- ``request.py``: a request checked exactly like `storegw config check`, identity keys kept;
- ``trial.py``: the pure commit/rollback judge (the clock passed in);
- ``startup.py``: which config a start uses (last committed remote, else the local file);
- ``manager.py``: the command, the trial task, SIGHUP's choice; sees the daemon through RemotePorts;
- ``wiring.py``: the few helpers gateway/app.py calls.
"""
