"""uspd: ultrasonic presence detection with a device's own speaker and microphones."""

__version__ = "0.1.0"
