"""Access: who may do what (tokens, roles and clinic scopes, the failed-auth throttle,
the origins browsers may call from).
"""
