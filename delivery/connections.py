"""Redis clients for the ledger, the limiter and the task state that ride out a Redis restart.

Each command is retried on a connection error or a timeout with full-jitter exponential
backoff: about 15 s in total on average, 31.5 s at most. So a task in the middle of a
delivery survives a Redis restart instead of failing halfway through a drop. No command
the courier sends (HSET, SADD, ZADD, EXPIRE, SET NX) doubles its effect when repeated. A
repeated SET NX whose first reply was lost reports the key as taken, and the task then
retries later.
"""

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

# Backoff ceiling between reconnect attempts: 0.5 s doubling up to 4 s, 10 attempts.
RETRY_BASE_SECONDS = 0.25
RETRY_CAP_SECONDS = 4.0
RETRY_ATTEMPTS = 10
SOCKET_TIMEOUT_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 5.0


def client_options() -> dict:
    """Return the keyword arguments for redis.Redis that every courier client uses."""
    return {
        "retry": Retry(ExponentialWithJitterBackoff(base=RETRY_BASE_SECONDS,
                                                    cap=RETRY_CAP_SECONDS), RETRY_ATTEMPTS),
        "retry_on_error": [redis.ConnectionError, redis.TimeoutError],
        "socket_timeout": SOCKET_TIMEOUT_SECONDS,
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "socket_keepalive": True,
        "health_check_interval": 10,
    }


def connect_redis(redis_url: str) -> redis.Redis:
    """Create a Redis client for `redis_url` with the courier's retry and timeouts."""
    return redis.Redis.from_url(redis_url, **client_options())
