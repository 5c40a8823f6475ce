"""Numerical failures of probdyn's kernels, as Pyro's HMC/NUTS should see them."""

from pyro.ops.integrator import register_exception_handler

from ..ops import NotPositiveDefiniteError


def is_numerical_failure(exception: BaseException) -> bool:
    """Whether ``exception`` (or one it was raised from) is a :class:`NotPositiveDefiniteError`.

    Pyro re-raises a ``log_prob`` error as a new ``ValueError`` naming the sample site, with
    the original as its cause, so the whole chain of causes is searched.
    """
    seen = set()
    while exception is not None and id(exception) not in seen:
        if isinstance(exception, NotPositiveDefiniteError):
            return True
        seen.add(id(exception))
        exception = exception.__cause__ or exception.__context__
    return False


# An HMC/NUTS proposal far in the tails (a variance of 1e-300, say) makes the filter's
# covariances degenerate: reject that proposal as divergent, as Pyro does for singular Cholesky
# factors, instead of stopping the chain.
register_exception_handler("probdyn_not_positive_definite", is_numerical_failure,
                           warn_on_overwrite=False)
