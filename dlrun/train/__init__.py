"""Training: runtime set-up (device, seeds), schedules, callbacks, compile and fit."""
