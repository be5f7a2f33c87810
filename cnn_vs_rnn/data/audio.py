"""Log-mel spectrograms in NumPy (no TensorFlow, no librosa).

The standard recipe, step by step:
  1. cut the signal into frames of `frame_ms` every `hop_ms` (no padding at
     the ends: a 1 s clip at 25/10 ms gives 1 + (16000 - 400) // 160 = 98
     frames; a clip shorter than one frame is zero-padded to one frame);
  2. multiply each frame by a periodic Hann window and take the power
     spectrum |rfft|^2 over n_fft = the next power of two >= the frame length;
  3. project the power spectrum on `num_mels` triangular filters equally
     spaced on the HTK mel scale, mel(f) = 2595 log10(1 + f / 700), between
     `fmin` and `fmax` (default: the Nyquist frequency); each triangle rises
     from 0 at its left neighbour's centre to 1 at its own centre and falls
     back to 0 at its right neighbour's centre (peak-normalised, as TF's
     `linear_to_mel_weight_matrix`);
  4. take log(energy + LOG_FLOOR): silence gives exactly log(LOG_FLOOR).
"""

from __future__ import annotations

import functools

import numpy as np

LOG_FLOOR = 1e-6


def hz_to_mel(f_hz):
  """The HTK mel scale."""
  return 2595.0 * np.log10(1.0 + np.asarray(f_hz, np.float64) / 700.0)


def mel_to_hz(mel):
  return 700.0 * (10.0 ** (np.asarray(mel, np.float64) / 2595.0) - 1.0)


def frame_params(sample_rate: int, frame_ms: float, hop_ms: float) -> tuple[int, int, int]:
  """(frame length, hop, n_fft) in samples."""
  frame_length = int(round(sample_rate * frame_ms / 1000.0))
  hop = int(round(sample_rate * hop_ms / 1000.0))
  if frame_length < 1 or hop < 1:
    raise ValueError(f'frame_ms={frame_ms} and hop_ms={hop_ms} must be at least one '
                     f'sample at {sample_rate} Hz')
  n_fft = 1 << (frame_length - 1).bit_length()
  return frame_length, hop, n_fft


def num_frames(num_samples: int, sample_rate: int, frame_ms: float = 25,
               hop_ms: float = 10) -> int:
  """Frames that `log_mel_spectrogram` returns for clips of `num_samples`."""
  frame_length, hop, _ = frame_params(sample_rate, frame_ms, hop_ms)
  return 1 + max(num_samples - frame_length, 0) // hop


def mel_centers_hz(num_mels: int, fmin: float, fmax: float) -> np.ndarray:
  """Centre frequency of each mel filter, in Hz, [num_mels]."""
  mels = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), num_mels + 2)
  return mel_to_hz(mels[1:-1])


@functools.lru_cache(maxsize=16)
def mel_filterbank(num_mels: int, n_fft: int, sample_rate: int, fmin: float,
                   fmax: float) -> np.ndarray:
  """Triangular mel filters, [n_fft // 2 + 1, num_mels] float32, peak 1."""
  if not 0 <= fmin < fmax <= sample_rate / 2:
    raise ValueError(f'need 0 <= fmin ({fmin}) < fmax ({fmax}) <= sample_rate / 2 '
                     f'({sample_rate / 2})')
  bin_hz = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
  edges_hz = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), num_mels + 2))
  left, center, right = edges_hz[:-2], edges_hz[1:-1], edges_hz[2:]
  f = bin_hz[:, None]
  rising = (f - left) / (center - left)
  falling = (right - f) / (right - center)
  weights = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
  weights.setflags(write=False)  # Cached and shared: read-only.
  return weights


def log_mel_spectrogram(audio_BxN: np.ndarray, sample_rate: int, num_mels: int = 40,
                        frame_ms: float = 25, hop_ms: float = 10, fmin: float = 20,
                        fmax: float | None = None) -> np.ndarray:
  """Log mel-filterbank energies of a batch of clips: [B, frames, num_mels] float32.

  `audio_BxN` is float (any scale; e.g. int16 samples / 32768), one clip per
  row, all of the same length N. frames = 1 + max(N - frame, 0) // hop.
  """
  audio_BxN = np.asarray(audio_BxN, np.float32)
  if audio_BxN.ndim != 2:
    raise ValueError(f'audio must be [B, N], not of shape {audio_BxN.shape}')
  fmax = sample_rate / 2 if fmax is None else fmax
  frame_length, hop, n_fft = frame_params(sample_rate, frame_ms, hop_ms)
  B, N = audio_BxN.shape
  if N < frame_length:
    audio_BxN = np.pad(audio_BxN, ((0, 0), (0, frame_length - N)))
  F = num_frames(N, sample_rate, frame_ms, hop_ms)
  starts_F = np.arange(F) * hop
  frames_BxFxL = audio_BxN[:, starts_F[:, None] + np.arange(frame_length)[None, :]]
  # Periodic Hann window (the usual choice for spectral analysis).
  window_L = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame_length) / frame_length)
              ).astype(np.float32)
  spectrum_BxFxK = np.fft.rfft(frames_BxFxL * window_L, n=n_fft, axis=-1)
  power_BxFxK = (spectrum_BxFxK.real ** 2 + spectrum_BxFxK.imag ** 2).astype(np.float32)
  filters_KxM = mel_filterbank(num_mels, n_fft, sample_rate, float(fmin), float(fmax))
  # One 2D matmul: NumPy's batched 3D @ 2D is several times slower.
  mel_BxFxM = (power_BxFxK.reshape(B * F, -1) @ filters_KxM).reshape(B, F, num_mels)
  return np.log(mel_BxFxM + np.float32(LOG_FLOOR)).astype(np.float32)
