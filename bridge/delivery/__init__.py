"""From a stored event to Kustomer: the claim loop, worker, processor, tickets, retry policy, replay, retention."""
