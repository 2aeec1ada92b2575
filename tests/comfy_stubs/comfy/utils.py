"""Stand-in for comfy.utils: a ProgressBar that records its updates."""

PROGRESS_BAR_HOOK = None
UPDATES = []  # (node_id, value, total) for every update, oldest first


class ProgressBar:
    def __init__(self, total, node_id=None):
        self.total = total
        self.current = 0
        self.node_id = node_id

    def update_absolute(self, value, total=None, preview=None):
        if total is not None:
            self.total = total
        self.current = min(value, self.total)
        UPDATES.append((self.node_id, self.current, self.total))

    def update(self, value):
        self.update_absolute(self.current + value)
