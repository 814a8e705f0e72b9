"""The OpenSearch and Redis clients, made once and bound to the app with init_app()."""

from __future__ import annotations

import redis
from flask import Flask
from opensearchpy import OpenSearch


class OpenSearchExtension:
    def __init__(self) -> None:
        self.client: OpenSearch | None = None

    def init_app(self, app: Flask) -> None:
        self.client = OpenSearch(
            hosts=app.config["OPENSEARCH_HOSTS"],
            timeout=app.config["OPENSEARCH_TIMEOUT"],
            # One quick retry on a connection blip; beyond that the caller gets a 503.
            max_retries=1,
            retry_on_timeout=False,
            http_compress=False,
            # One kept-alive connection per request thread (gthread serves several).
            pool_maxsize=app.config.get("OPENSEARCH_POOL_SIZE", 16),
        )
        app.extensions["opensearch"] = self.client


class RedisExtension:
    def __init__(self) -> None:
        self.client: redis.Redis | None = None

    def init_app(self, app: Flask) -> None:
        self.client = redis.Redis.from_url(
            app.config["REDIS_URL"],
            socket_connect_timeout=1,
            socket_timeout=2,
            health_check_interval=30,
        )
        app.extensions["redis"] = self.client


opensearch = OpenSearchExtension()
redis_store = RedisExtension()
