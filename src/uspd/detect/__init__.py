"""Detection: frame scores from Doppler spectrograms, and the presence state machine."""
