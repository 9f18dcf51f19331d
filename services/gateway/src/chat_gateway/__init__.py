"""WebSocket gateway of the chat system."""
