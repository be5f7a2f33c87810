"""Parameter-matched sizing: pick a model's width so it has about N parameters.

`config.model.param_budget = N` scales every width field of the family
(WIDTH_FIELDS; a module may report their current values with a
`sizing_widths()` method when a field's default is derived) by one common factor, found by bisection on the parameter
count, so families are compared at the same size with their shapes (depth,
kernel sizes, relative widths) kept; then single widths move by one step
at a time while that brings the count closer to N.
"""

from __future__ import annotations

from typing import Callable

from cnn_vs_rnn.errors import ConfigError

# Model name -> the fields param_budget scales; filled by models.registry.register.
WIDTH_FIELDS: dict[str, tuple[str, ...]] = {}
TOLERANCE = 0.05


def scale(value, factor: float, multiple: int = 1):
  """Every int in a (nested) width field times `factor`, rounded to `multiple`, at least it."""
  if isinstance(value, (tuple, list)):
    return tuple(scale(v, factor, multiple) for v in value)
  return max(multiple, int(round(value * factor / multiple)) * multiple)


def _leaves(value) -> int:
  return sum(_leaves(v) for v in value) if isinstance(value, (tuple, list)) else 1


def _bump(value, index: int, delta: int, multiple: int):
  """`value` with its `index`-th int (depth-first) moved by delta * multiple."""
  def walk(v, i):
    if isinstance(v, (tuple, list)):
      out = []
      for x in v:
        x, i = walk(x, i)
        out.append(x)
      return tuple(out), i
    return (max(multiple, v + delta * multiple) if i == index else v), i + 1
  return walk(value, 0)[0]


def _refine(widths: dict, params, budget: int, multiple: int) -> dict:
  """Coordinate descent: move single widths by one step while that gets closer to budget."""
  best, err = widths, abs(params(widths) - budget)
  improved = True
  while improved:
    improved = False
    for key, value in best.items():
      for index in range(_leaves(value)):
        for delta in (-1, 1):
          cand = {**best, key: _bump(value, index, delta, multiple)}
          cand_err = abs(params(cand) - budget)
          if cand_err < err:
            best, err, improved = cand, cand_err, True
            break
        if improved:
          break
      if improved:
        break
  return best


def fit_widths(name: str, widths: dict, count: Callable[[dict], int], budget: int,
               multiple: int = 1) -> dict:
  """The scaled `widths` whose parameter count `count(widths)` is closest to `budget`.

  Raises a ConfigError when no width lands within TOLERANCE of the budget.
  """
  if name not in WIDTH_FIELDS:
    raise ConfigError(f'model {name!r} has no width to size; param_budget works for: '
                      + ', '.join(sorted(WIDTH_FIELDS)))
  at = lambda f: {k: scale(v, f, multiple) for k, v in widths.items()}
  cache = {}

  def params(w: dict) -> int:
    key = repr(sorted(w.items()))
    if key not in cache:
      cache[key] = count(w)
    return cache[key]

  lo, hi = 1e-3, 1e3
  if params(at(lo)) > budget:
    raise ConfigError(f'model.param_budget={budget} is below the smallest {name!r} '
                      f'({params(at(lo))} parameters)')
  for _ in range(40):  # Bisection in log space on a monotone step function.
    mid = (lo * hi) ** 0.5
    if params(at(mid)) <= budget:
      lo = mid
    else:
      hi = mid
  best = min((at(lo), at(hi)), key=lambda w: abs(params(w) - budget))
  best = _refine(best, params, budget, multiple)
  got = params(best)
  if abs(got - budget) > TOLERANCE * budget:
    raise ConfigError(f'model.param_budget={budget}: the closest {name!r} has {got} '
                      f'parameters (more than {TOLERANCE:.0%} off)')
  return best
