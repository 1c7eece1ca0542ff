"""Client feedback: the 1C-Connect webhook receiver and the task that records replies.

`python -m feedback` runs the receiver; `feedback.tasks` contains the Celery task that turns
a client's reply into feedback/<document_id>/<message_id>.json for 1C.
"""
