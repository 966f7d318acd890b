"""`storegw fleet simulate`: many gateways' worth of real traffic from one process, for backend load tests.

One job per module: outbox.py (RAM outbox: the real envelope and numbering), link.py (a paho client
driven by the asyncio loop), gateway.py (one simulated gateway: the daemon's Publisher and CommandHandler
wired to those two), figures.py (connections, events, reconnect waves), state.py (boots and sequences
kept across runs), simulate.py (the run and its reports).

Where it deviates from the daemon, and why (measured on a 2-core box, mosquitto on loopback, 1 event/s
per gateway): 1,000 daemon links (MqttLink, one paho thread each) over RAM outboxes got only ~350 of
1,000 clients connected within 60 s, the loop starved by a thousand threads; adding 1,000 aiosqlite
threads (the SQLite outbox) would only make it worse. With one loop driving every paho client
(link.py) and RAM outboxes, 1,000 gateways connect within 5 s and publish 1,000 events/s at 40 % of one
core and ~100 MB RSS. The publisher, the replay queue, the command handler, the envelope, the state
payloads and the backoff are the daemon's own.
"""
