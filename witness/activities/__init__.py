"""Floor 2: cases (案件) and enforcement activities (执法活动, ACT-2) — what recordings,
findings and timelines hang off."""
