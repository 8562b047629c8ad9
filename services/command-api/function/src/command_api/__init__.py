"""Write side: HTTP commands to events in the DynamoDB event store"""
