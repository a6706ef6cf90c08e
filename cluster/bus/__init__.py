"""The cluster bus: the only package that imports zmq or msgpack.

Daemons and tools reach each other through here: `codec` turns catalogued
messages into bytes, `endpoints` names the sockets, `server` answers
requests, `publisher` emits events, `client` asks and subscribes, and
`loop` is the single-threaded event loop every daemon runs.
"""
