"""Device drivers: each turns one device family into an async stream of typed readings.

Drivers import nothing from ``gateway``; they know devices, not events, MQTT or storage.
A driver module is imported only by its kind's runner (``gateway/devices/<kind>/runner.py``),
so a box without cv2 or bleak can run its counters.
"""
