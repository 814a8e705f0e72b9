"""The callee's calling window: when a number may be called, under a workspace's policy.

`windows` is the arithmetic (pure: instants, zones and rules in, answers out),
`regions` reads what libphonenumber knows about where a number rings (zones, country,
state or province), `policies` keeps each workspace's policy document in OpenSearch.
"""
