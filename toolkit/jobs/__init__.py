"""Work that runs on the task queue: e-mail of every kind, schedules, bulk printing."""
