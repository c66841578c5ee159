"""What the tests share: harnesses that start the app or its processes, scripted models, clients that play a
browser or a user, and the fixture web. Test modules import from here (and from tests.fakes), never from
each other."""
