"""The words of the close-the-loop playbook and the pure rules over them; imports nothing above."""
