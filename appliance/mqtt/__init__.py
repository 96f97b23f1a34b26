"""The farm's device broker (embedded amqtt) and the appliance's own MQTT client."""
