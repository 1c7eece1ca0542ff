# Flower reads this file from its working folder (the project root) before its
# command line and FLOWER_* variables, which override it.
# Listen on loopback unless the command line or FLOWER_ADDRESS sets another address.
# tasks.flower_guard rejects any other address without FLOWER_BASIC_AUTH or OAuth.
address = "127.0.0.1"
port = 5555
# Bounded memory: the courier's own files and ledger are the history, not Flower.
max_tasks = 10000
persistent = False
# Drop workers that have been offline for an hour from the dashboard, s.
purge_offline_workers = 3600
# Show the task's arguments in the list: the document number, client and recipient
# count that tasks.queueing puts there (never e-mails or phones).
tasks_columns = "name,uuid,state,args,received,runtime,worker"
