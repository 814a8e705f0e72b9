"""The change feed's engine adapters: the Redis sequence and the webhook transport."""
