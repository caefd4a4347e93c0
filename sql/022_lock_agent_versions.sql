-- One day's versions at a time (the lock conflicts with itself; reads go on), taken before the day's history
-- partition is emptied: a late day's replay reads later days' history, which their own run empties only
-- while holding this lock.
lock table agent_versions in share row exclusive mode
