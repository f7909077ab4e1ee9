"""Human corrections (an append-only log replayed onto every rebuild), the corrector model that
learns from them, and the review queue."""
