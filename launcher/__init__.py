"""`make run`: the whole courier on one machine under honcho, with a private Redis.

Not used in production, where systemd or docker-compose start each process; see README.
"""
