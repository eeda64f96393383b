"""Test 4: the CNN-GRU proxy model (``model``), its train loop (``loop``) and convergence metrics
(``analysis``)."""
