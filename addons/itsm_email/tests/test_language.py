# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction

from ..outbound import Outgoing, OutgoingAttachment, compose
from .tools import create_mailbox, email_message, receive


def test_compose_says_the_language_of_the_text():
    "Content-Language names the language of the text, also beside a file"
    outgoing = Outgoing(
        from_address='servicedesk@oriale.example', to=['ewa@client.example'],
        subject="Re: [TCK-00001] Drukarka", text="Dzień dobry,",
        message_id='<itsm.t1.m1.x@itsm.oriale.example>', language='pl')
    assert compose(outgoing)['Content-Language'] == 'pl'
    outgoing.attachments = [OutgoingAttachment('raport.pdf', b'%PDF')]
    text, attachment = compose(outgoing).iter_parts()
    assert text['Content-Language'] == 'pl'
    assert attachment['Content-Language'] is None


def create_requester(name, address, lang=None):
    Party = Pool().get('party.party')
    party, = Party.create([{
                'name': name,
                'lang': lang.id if lang else None,
                'contact_mechanisms': [('create', [{
                                'type': 'email', 'value': address}])],
                }])
    return party


class ItsmEmailLanguageTestCase(ModuleTestCase):
    "Test the automatic emails in the language of the requester"
    module = 'itsm_email'

    @classmethod
    def load_polish(cls):
        """Make Polish a translatable language, as Administration ‣
        Localization ‣ Languages ‣ Load Translations does: the .po files of
        the activated modules are imported, no module update needed"""
        Lang = Pool().get('ir.lang')
        polish, = Lang.search([('code', '=', 'pl')])
        Lang.load_translations([polish])
        return polish

    @with_transaction()
    def test_acknowledgement_in_polish(self):
        "A requester whose language is Polish is answered in Polish"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        polish = self.load_polish()
        self.assertTrue(polish.translatable)
        company = create_company()
        with set_company(company):
            create_requester("Ewa Kowalska", 'ewa@client.example', polish)
            inbox = create_mailbox(company)

            ticket = receive(inbox, email_message(
                    sender='ewa@client.example',
                    subject="Drukarka nie drukuje")).ticket

            [acknowledgement] = [m for m in ticket.messages if m.automatic]
            self.assertEqual(
                acknowledgement.subject,
                f"Re: [{ticket.number}] Drukarka nie drukuje")
            self.assertEqual(acknowledgement.body, (
                    "Dzień dobry,\n\n"
                    "dziękujemy za wiadomość. Zarejestrowaliśmy ją jako "
                    f"zgłoszenie {ticket.number}:\n\n"
                    "    Drukarka nie drukuje\n\n"
                    "Odpowiemy najszybciej, jak to możliwe. Aby coś dodać, "
                    "wystarczy odpowiedzieć na ten e-mail, zachowując w "
                    f"temacie [{ticket.number}].\n\n"
                    "-- \n"
                    f"Service Desk {company.rec_name}"))
            outgoing, _ = acknowledgement.outgoing()
            self.assertEqual(compose(outgoing)['Content-Language'], 'pl')

            ticket.resolution = "Wymieniono bęben."
            ticket.save()
            Ticket.resolve([ticket])
            resolution = ticket.messages[-1]
            self.assertEqual(
                resolution.subject,
                f"[{ticket.number}] Rozwiązane: Drukarka nie drukuje")
            self.assertIn("zostało rozwiązane:\n\nWymieniono bęben.",
                resolution.body)

    @with_transaction()
    def test_other_requesters_in_the_default_language(self):
        "Without a language, or in one not translated, English is used"
        pool = Pool()
        Lang = pool.get('ir.lang')
        self.load_polish()
        german, = Lang.search([('code', '=', 'de')])
        company = create_company()
        with set_company(company):
            create_requester("Jan", 'jan@client.example')
            create_requester("Hans", 'hans@client.example', german)
            inbox = create_mailbox(company)
            for sender in ['jan@client.example', 'hans@client.example']:
                ticket = receive(
                    inbox, email_message(sender=sender)).ticket
                [acknowledgement] = [
                    m for m in ticket.messages if m.automatic]
                self.assertTrue(acknowledgement.body.startswith(
                        "Hello "), acknowledgement.body)


del ModuleTestCase
