"""The model registry: `config.model.name` -> a Flax module class (with preset fields).

A model registers itself where it is defined:

  @register('gru', widths=('hidden_size',), cell='gru')
  class RNN(nn.Module): ...

`widths` names the fields that `config.model.param_budget` scales together
(models/sizing.py); keyword arguments preset fields, so one class can serve
several names. A module outside this package registers the same way and is
named in `config.imports` (see README, "Extending").
"""

from __future__ import annotations

import functools

from cnn_vs_rnn.models import sizing

MODELS: dict = {}


def register(name: str, *, widths: tuple[str, ...] = (), **fixed):
  """Class decorator: registers the class under `name`, with `fixed` fields preset."""
  def wrap(cls):
    MODELS[name] = functools.partial(cls, **fixed) if fixed else cls
    if widths:
      sizing.WIDTH_FIELDS[name] = tuple(widths)
    return cls
  return wrap
