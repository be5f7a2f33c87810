"""cnn_vs_rnn: convolutional and recurrent networks compared on equal footing."""

__version__ = "0.1.0"
