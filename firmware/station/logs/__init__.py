# The station's logs on flash: the bounded ring both logs use (ring.py) and GetLog's upload (N01).
