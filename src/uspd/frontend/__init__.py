"""Front end: pilot tone → complex baseband → Doppler spectrogram in m/s."""
